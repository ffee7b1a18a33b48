"""Servers the project starts listen on the loopback interface only."""

from __future__ import annotations

import psutil

from sim.runs.dask_sweep import local_cluster


def listening(process: psutil.Process) -> list[str]:
    """Addresses the process and its children listen on (TCP)."""
    out = []
    for p in [process, *process.children(recursive=True)]:
        out += [c.laddr.ip for c in p.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN]
    return out


def test_the_sweeps_local_dask_cluster_and_its_dashboard_listen_on_127_0_0_1():
    before = set(listening(psutil.Process()))
    with local_cluster(1) as cluster:
        assert cluster.dashboard_link.startswith("http://127.0.0.1:")
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        addresses = listening(psutil.Process())
    assert len(addresses) >= 4  # scheduler, dashboard, nanny, worker (and the worker's own dashboard)
    assert set(addresses) - before == {"127.0.0.1"}, addresses
