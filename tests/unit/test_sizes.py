from t4o.common.sizes import format_bytes


def test_whole_bytes_below_a_kib() -> None:
    assert format_bytes(0) == "0 B"
    assert format_bytes(1023) == "1023 B"


def test_largest_unit_reached_with_one_decimal() -> None:
    assert format_bytes(1024) == "1.0 KiB"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(3 * 1024**2) == "3.0 MiB"
    assert format_bytes(5 * 1024**3) == "5.0 GiB"
    assert format_bytes(2 * 1024**4) == "2.0 TiB"
    assert format_bytes(3 * 1024**5) == "3.0 PiB"
    assert format_bytes(-2048) == "-2.0 KiB"
