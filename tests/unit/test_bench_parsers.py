"""The parsers and machine facts on real outputs of hpcc, fio and sysbench (tests/fixtures)."""

from __future__ import annotations

import json

import pytest

from bench import facts, parsers
from bench.figures import BY_ID, ids_of
from tests.bench_docs import fixture


def test_hpcc_two_processes_gives_every_hpcc_figure() -> None:
    parsed = parsers.parse_hpcc(fixture("hpccoutf-2proc.txt"))
    assert set(parsed.figures) == set(ids_of("hpcc"))
    assert parsed.figures["hpl"] == pytest.approx(2.352)  # HPL_Tflops=0.002352, in GFLOPS
    assert parsed.figures["dgemm"] == pytest.approx(5.61638)
    assert parsed.figures["stream_copy"] == pytest.approx(28.5594)
    assert parsed.figures["stream_triad"] == pytest.approx(28.1609)
    assert parsed.figures["stream_triad_star"] == pytest.approx(27.0298)
    assert parsed.figures["random_access"] == pytest.approx(0.163252)
    assert parsed.figures["fft"] == pytest.approx(1.24239)
    assert parsed.figures["ptrans"] == pytest.approx(0.0425763)
    assert parsed.figures["mpi_latency"] == pytest.approx(0.312266)
    assert parsed.details["version"] == "1.5.0"
    assert parsed.details["hpl_n"] == 1024
    assert parsed.details["processes"] == 2
    assert parsed.details["stream_array_elements"] == 174762  # N^2 / (3 * 2)
    assert parsed.details["summary"]["HPL_NB"] == 64


def test_hpcc_one_process_has_no_mpi_latency() -> None:
    parsed = parsers.parse_hpcc(fixture("hpccoutf-1proc.txt"))
    assert parsed.details["processes"] == 1
    assert set(parsed.figures) == set(ids_of("hpcc")) - {"mpi_latency"}
    assert all(value > 0 for value in parsed.figures.values())


def test_hpcc_failed_run_is_an_error() -> None:
    text = fixture("hpccoutf-2proc.txt").replace("\nSuccess=1\n", "\nSuccess=0\n")
    with pytest.raises(parsers.ParseError, match="Success=0"):
        parsers.parse_hpcc(text)


def test_hpcc_failed_residual_is_an_error() -> None:
    text = fixture("hpccoutf-2proc.txt").replace("PASSED", "FAILED")
    with pytest.raises(parsers.ParseError, match="residual"):
        parsers.parse_hpcc(text)


def test_hpcc_truncated_output_is_an_error() -> None:
    text = fixture("hpccoutf-2proc.txt").split("Begin of Summary section.")[0]
    with pytest.raises(parsers.ParseError, match="Summary"):
        parsers.parse_hpcc(text)


def test_openblas_core_from_mpirun_stderr() -> None:
    assert parsers.openblas_core(fixture("mpirun-stderr.txt")) == "Prescott"
    assert parsers.openblas_core("") is None


def test_fio_iozone_jobs() -> None:
    parsed = parsers.parse_fio(fixture("fio-iozone.json"))
    assert parsed.figures == {
        "fio_write": pytest.approx(486.296115),
        "fio_rewrite": pytest.approx(958.698057),
        "fio_read": pytest.approx(1118.481066),
        "fio_reread": pytest.approx(4793.490285),
    }
    assert parsed.details["version"] == "fio-3.33"
    assert parsed.details["jobs"]["write"]["io_bytes"] == 32 << 20


def test_fio_notice_before_json_is_skipped() -> None:
    text = "fio: note: something\n" + fixture("fio-iozone.json")
    assert parsers.parse_fio(text).figures["fio_read"] > 0


def test_fio_failed_or_missing_job_is_an_error() -> None:
    doc = json.loads(fixture("fio-iozone.json"))
    doc["jobs"][2]["error"] = 5
    with pytest.raises(parsers.ParseError, match="'read' failed"):
        parsers.parse_fio(json.dumps(doc))
    doc["jobs"] = doc["jobs"][:1]
    with pytest.raises(parsers.ParseError, match="no job named 'rewrite'"):
        parsers.parse_fio(json.dumps(doc))
    with pytest.raises(parsers.ParseError, match="no JSON"):
        parsers.parse_fio("fio: failed to open file\n")


def test_sysbench_cpu_and_memory() -> None:
    cpu = parsers.parse_sysbench_cpu(fixture("sysbench-cpu.txt"))
    assert cpu.figures == {"sysbench_cpu": pytest.approx(2387.68)}
    assert cpu.details == {"version": "1.0.20", "threads": 2, "prime_limit": 10000}
    memory = parsers.parse_sysbench_memory(fixture("sysbench-memory.txt"))
    assert memory.figures == {"sysbench_memory": pytest.approx(15952.36)}
    assert memory.details["block_size"] == "1024KiB"
    assert memory.details["operation"] == "write"
    with pytest.raises(parsers.ParseError, match="events per second"):
        parsers.parse_sysbench_cpu(fixture("sysbench-memory.txt"))


def test_every_figure_has_a_unit_and_direction() -> None:
    assert BY_ID["mpi_latency"].higher_is_better is False
    assert all(f.unit for f in BY_ID.values())


def test_machine_facts_from_this_machines_files() -> None:
    assert facts.parse_cpu_model(fixture("cpuinfo.txt")) == "Intel(R) Xeon(R) Processor"
    assert facts.parse_meminfo(fixture("meminfo.txt")) == 24684084 * 1024
    assert facts.parse_os_release(fixture("os-release.txt")) == "Debian GNU/Linux 12 (bookworm)"
    caches = [
        (int(level), kind, facts.parse_size(size))
        for level, kind, size in (line.split() for line in fixture("sysfs-caches.txt").splitlines())
    ]
    assert facts.last_level_cache(caches) == 266240 * 1024
    assert facts.last_level_cache([(1, "Instruction", 32768)]) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("max\n", None), ("2147483648\n", 2 << 30), ("9223372036854771712", None)],
)
def test_cgroup_memory_limit(text: str, expected: int | None) -> None:
    assert facts.parse_cgroup_limit(text) == expected


def test_hpcc_takes_sse3_kernels_under_software_emulation() -> None:
    from bench.suite import EMULATED_BLAS_CORE, blas_core_for

    assert blas_core_for({"virtualization_vm": "qemu"}, None) == EMULATED_BLAS_CORE == "Prescott"
    assert blas_core_for({"virtualization_vm": "qemu"}, "Haswell") == "Haswell"
    assert blas_core_for({"virtualization_vm": "kvm"}, None) is None
    assert blas_core_for({"virtualization_vm": "none"}, None) is None
