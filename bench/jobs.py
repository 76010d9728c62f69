"""The tools' input files, rendered from :class:`bench.sizing.Sizes`: pure functions.

- :func:`hpccinf` is hpcc's ``hpccinf.txt`` (HPL's input file plus PTRANS lines): one N, one
  NB, one P x Q grid; the other HPL settings are those of Debian's example file.
- :func:`fio_jobs` reproduces iozone's four sequential figures (``iozone -i 0 -i 1 -e
  -s SIZE -r BS``) with four fio jobs on one file, run one after another (``stonewall``):

  ========  ===================================================================
  write     ``rw=write`` into a new file, ``end_fsync=1`` (iozone's ``-e``: the
            flush is timed)
  rewrite   the same job again on the now existing file
  read      ``rw=read`` after dropping the file's cached pages (fio's default
            ``invalidate=1``), so it reads the disk
  reread    ``rw=read`` again with ``invalidate=0``: the pages the read just
            cached, as iozone's reread does
  ========  ===================================================================
"""

from __future__ import annotations

from bench.sizing import Sizes

FIO_FILE = "cloudlabs-bench.fio"


def hpccinf(sizes: Sizes) -> str:
    lines = [
        ("HPLinpack benchmark input file", ""),
        ("Innovative Computing Laboratory, University of Tennessee", ""),
        ("HPL.out", "output file name (if any)"),
        ("8", "device out (6=stdout,7=stderr,file)"),
        ("1", "# of problems sizes (N)"),
        (str(sizes.hpl_n), "Ns"),
        ("1", "# of NBs"),
        (str(sizes.hpl_nb), "NBs"),
        ("0", "PMAP process mapping (0=Row-,1=Column-major)"),
        ("1", "# of process grids (P x Q)"),
        (str(sizes.p), "Ps"),
        (str(sizes.q), "Qs"),
        ("16.0", "threshold"),
        ("1", "# of panel fact"),
        ("2", "PFACTs (0=left, 1=Crout, 2=Right)"),
        ("1", "# of recursive stopping criterium"),
        ("4", "NBMINs (>= 1)"),
        ("1", "# of panels in recursion"),
        ("2", "NDIVs"),
        ("1", "# of recursive panel fact."),
        ("1", "RFACTs (0=left, 1=Crout, 2=Right)"),
        ("1", "# of broadcast"),
        ("1", "BCASTs (0=1rg,1=1rM,2=2rg,3=2rM,4=Lng,5=LnM)"),
        ("1", "# of lookahead depth"),
        ("1", "DEPTHs (>=0)"),
        ("2", "SWAP (0=bin-exch,1=long,2=mix)"),
        ("64", "swapping threshold"),
        ("0", "L1 in (0=transposed,1=no-transposed) form"),
        ("0", "U  in (0=transposed,1=no-transposed) form"),
        ("1", "Equilibration (0=no,1=yes)"),
        ("8", "memory alignment in double (> 0)"),
        ("##### This line (no. 32) is ignored (it serves as a separator). ######", ""),
        ("0", "Number of additional problem sizes for PTRANS"),
        ("1200 10000 30000", "values of N"),
        ("0", "number of additional blocking sizes for PTRANS"),
        ("40 9 8 13 13 20 16 32 64", "values of NB"),
    ]
    return "".join(f"{value:<12} {comment}".rstrip() + "\n" for value, comment in lines)


def fio_jobs(sizes: Sizes, directory: str) -> str:
    """The fio job file; the file is created in ``directory`` and removed by the last job."""
    return "\n".join(
        [
            "[global]",
            "ioengine=psync",
            f"directory={directory}",
            f"filename={FIO_FILE}",
            f"size={sizes.fio_size}",
            f"bs={sizes.fio_block_size}",
            "end_fsync=1",
            "",
            "[write]",
            "rw=write",
            "",
            "[rewrite]",
            "stonewall",
            "rw=write",
            "",
            "[read]",
            "stonewall",
            "rw=read",
            "",
            "[reread]",
            "stonewall",
            "rw=read",
            "invalidate=0",
            "unlink=1",
            "",
        ]
    )
