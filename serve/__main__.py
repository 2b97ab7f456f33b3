import sys

from serve.main import main

sys.exit(main())
