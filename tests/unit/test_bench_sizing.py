"""Problem sizes from memory, cores and the last-level cache (bench/sizing.py)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.jobs import fio_jobs, hpccinf
from bench.sizing import (
    FULL,
    GIB,
    MIB,
    QUICK,
    Resources,
    hpl_n,
    n_for_stream,
    plan,
    process_grid,
    stream_elements,
)

THIS_MACHINE = Resources(
    cores=2, memory_bytes=24684084 * 1024, llc_bytes=260 * MIB, disk_free_bytes=78 * GIB
)
SMALL_GUEST = Resources(cores=1, memory_bytes=1 * GIB, llc_bytes=16 * MIB, disk_free_bytes=8 * GIB)


@pytest.mark.parametrize(
    ("processes", "grid"),
    [(1, (1, 1)), (2, (1, 2)), (4, (2, 2)), (6, (2, 3)), (7, (1, 7)), (12, (3, 4))],
)
def test_process_grid(processes: int, grid: tuple[int, int]) -> None:
    assert process_grid(processes) == grid


def test_full_profile_on_this_machine() -> None:
    sizes = plan(THIS_MACHINE, FULL)
    # A quarter of the memory gives N = 28032; STREAM's 4 x 260 MiB arrays need N = 28672.
    assert hpl_n(THIS_MACHINE.memory_bytes, 0.25, 128) == 28032
    assert sizes.hpl_n == 28672
    assert sizes.hpl_n % sizes.hpl_nb == 0
    assert (sizes.processes, sizes.p, sizes.q) == (2, 1, 2)
    assert sizes.stream_cache_rule_met
    assert sizes.stream_array_bytes >= 4 * 260 * MIB
    assert sizes.hpl_matrix_bytes <= 0.5 * THIS_MACHINE.memory_bytes
    assert sizes.fio_size == GIB
    assert (sizes.sysbench_threads, sizes.sysbench_seconds) == (2, 20)


def test_full_profile_on_a_small_guest_follows_its_memory() -> None:
    sizes = plan(SMALL_GUEST, FULL)
    assert sizes.hpl_n == 5760  # sqrt(0.25 GiB / 8) = 5792, down to a multiple of 128
    assert sizes.stream_cache_rule_met  # 5760^2 / 3 doubles = 84 MiB >= 64 MiB
    assert (sizes.p, sizes.q) == (1, 1)


def test_cache_rule_never_takes_more_than_half_the_memory() -> None:
    big_cache = Resources(cores=2, memory_bytes=1 * GIB, llc_bytes=512 * MIB, disk_free_bytes=GIB)
    sizes = plan(big_cache, FULL)
    assert sizes.hpl_matrix_bytes <= GIB // 2
    assert not sizes.stream_cache_rule_met


def test_unknown_cache_size_keeps_the_memory_rule() -> None:
    sizes = plan(Resources(2, 4 * GIB, None, 10 * GIB), FULL)
    assert sizes.hpl_n == hpl_n(4 * GIB, 0.25, 128)
    assert sizes.stream_required_bytes is None
    assert not sizes.stream_cache_rule_met


def test_quick_profile_is_small() -> None:
    sizes = plan(THIS_MACHINE, QUICK)
    assert sizes.hpl_n == 1024
    assert sizes.fio_size == 32 * MIB
    assert sizes.sysbench_seconds == 1
    # 5 % of 64 MiB: sqrt(0.05 * 64 MiB / 8) = 647, down to a multiple of 64
    assert plan(Resources(1, 64 * MIB, None, GIB), QUICK).hpl_n == 640


def test_fio_file_fits_a_tenth_of_the_free_space() -> None:
    sizes = plan(Resources(1, GIB, None, 2 * GIB), FULL)
    assert sizes.fio_size == 204 * MIB


@given(
    llc=st.integers(min_value=1 * MIB, max_value=1 << 33),
    processes=st.integers(min_value=1, max_value=256),
    nb=st.sampled_from([32, 64, 128, 256]),
)
def test_n_for_stream_is_the_smallest_block_multiple(llc: int, processes: int, nb: int) -> None:
    n = n_for_stream(llc, processes, nb)
    need = math.ceil(4 * llc / 8)
    assert n % nb == 0
    assert stream_elements(n, processes) >= need
    assert n == nb or stream_elements(n - nb, processes) < need


def test_hpccinf_carries_the_sizes_on_hpls_lines() -> None:
    sizes = plan(THIS_MACHINE, FULL)
    lines = hpccinf(sizes).splitlines()
    assert len(lines) == 36
    assert lines[5].split()[0] == "28672"  # line 6: Ns
    assert lines[7].split()[0] == "128"  # line 8: NBs
    assert (lines[10].split()[0], lines[11].split()[0]) == ("1", "2")  # lines 11-12: P, Q


def test_fio_jobs_are_iozones_four_passes_on_one_file() -> None:
    text = fio_jobs(plan(THIS_MACHINE, QUICK), "/var/tmp/x")
    sections = [line for line in text.splitlines() if line.startswith("[")]
    assert sections == ["[global]", "[write]", "[rewrite]", "[read]", "[reread]"]
    assert "directory=/var/tmp/x" in text
    assert f"size={32 * MIB}" in text
    assert "end_fsync=1" in text
    assert text.count("stonewall") == 3
    reread = text.split("[reread]")[1]
    assert "invalidate=0" in reread and "unlink=1" in reread
