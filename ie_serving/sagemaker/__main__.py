import sys

from ie_serving.sagemaker.main import main

sys.exit(main())
