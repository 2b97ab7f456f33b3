"""Version directories as TF Serving lists them (tensorflow_serving/sources/storage_path/
file_system_storage_path_source.cc: a directory whose name parses as a number is that version,
so 00000123/ is version 123), on the local filesystem and from S3/GCS object keys."""

from __future__ import annotations

from ie_serving.storage.local import LocalStorage
from ie_serving.storage.remote import group_versions


def test_local_zero_padded_directories_are_their_number(tmp_path):
    for name in ("00000123", "7", "07", "abc"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.xml").write_text("x")
    versions, notes = LocalStorage().list_versions(str(tmp_path))
    assert sorted(versions) == [7, 123]
    assert versions[123].directory_name == "00000123" and versions[7].directory_name == "07"
    assert LocalStorage().local_dir(str(tmp_path), versions[123]) == tmp_path / "00000123"
    assert any("7: ignored, version 7 is already the directory 07" in note for note in notes)
    assert any("abc: ignored" in note for note in notes)


def test_remote_keys_keep_the_directory_name():
    objects = [("p/00000123/model.xml", 1, "e1"), ("p/00000123/model.bin", 2, "e2"), ("p/5/model.onnx", 3, "e3")]
    versions, notes = group_versions("s3://b/p", "p/", objects)
    assert versions[123].directory_name == "00000123" and versions[5].directory_name == "5"
    assert [name for name, _, _ in versions[123].files] == ["model.bin", "model.xml"]
    assert notes == []
