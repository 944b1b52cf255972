import t4o


def test_version_is_set() -> None:
    assert t4o.__version__.count(".") == 2
