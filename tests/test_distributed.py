"""The comparison and scikit-learn's model selection on a Dask cluster: same numbers as one process.

One small ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)`` serves
the module. Its workers run torch on one thread, so the serial runs compared with
them do too: float reductions (and so the last digits) depend on the thread count.
"""

import os
import signal
import threading
import time

import numpy as np
import pytest
import torch

distributed = pytest.importorskip("distributed")  # the optional extra sklearn-hier[distributed]

from _compare_settings import TINY  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold  # noqa: E402

from sklearn_hier import HierarchicalEmbedder  # noqa: E402
from sklearn_hier.experiments import CompareSettings, compare  # noqa: E402
from sklearn_hier.metrics import hierarchy_scorers  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def client():
    # The fits in this process run on the workers' one torch thread, so they compute the same last digits.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    return compare(CompareSettings(**TINY), out=tmp_path_factory.mktemp("serial"), verbose=0)


def _metrics(result):
    return [(r["config"], r["fold"], r["metric"], r["value"]) for r in result["rows"] if "_time" not in r["metric"]]


def test_cluster_gives_the_serial_table(client, serial, tmp_path):
    result = compare(CompareSettings(**TINY), out=tmp_path, verbose=0, scheduler=client)
    assert _metrics(result) == _metrics(serial) and result["table"] == serial["table"]
    assert (tmp_path / "results.csv").read_text().count("\n") == len(serial["rows"]) + 1


def test_a_killed_worker_has_its_pair_rerun_and_nothing_partial_is_written(client, serial, tmp_path):
    done = {}
    run = threading.Thread(
        target=lambda: done.update(result=compare(CompareSettings(**TINY), out=tmp_path, verbose=0, scheduler=client))
    )
    run.start()
    deadline = time.monotonic() + 120
    busy = []
    while not busy and time.monotonic() < deadline:
        busy = [w for w, keys in client.processing().items() if any("pair_on_worker" in str(k) for k in keys)]
        time.sleep(0.05)
    assert busy, "no pair ever ran"
    pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
    os.kill(pid, signal.SIGKILL)
    run.join(timeout=600)
    assert _metrics(done["result"]) == _metrics(serial)
    assert not list(tmp_path.rglob("*.tmp"))
    client.wait_for_workers(2, timeout=120)  # the nanny brought it back for the next test


def test_local_cluster_from_n_workers(serial, tmp_path, capsys):
    settings = CompareSettings(**{**TINY, "losses": ("PL",)})
    result = compare(settings, out=tmp_path, verbose=1, n_workers=2)
    assert "dashboard" in capsys.readouterr().out
    assert _metrics(result) == [m for m in _metrics(serial) if m[0] == "PL"]


def test_grid_search_under_the_dask_joblib_backend_equals_one_job(client):
    import joblib

    rng = np.random.default_rng(0)
    y = np.array([f"{a}/{b}" for a in "AB" for b in "xyz" for _ in range(8)], dtype=object)
    X = rng.standard_normal((len(y), 6)).astype(np.float32) + (np.arange(len(y)) // 8)[:, None]
    emb = HierarchicalEmbedder(embedding_dim=4, max_epochs=3, random_state=0, verbose=0, triplets_per_batch=8)
    grid = {"losses": ["PL", "PL+T"]}
    scoring = {k: v for k, v in hierarchy_scorers().items() if k in ("ndcg", "neg_mean_normalized_rank")}
    cv = KFold(2, shuffle=True, random_state=0)
    one = GridSearchCV(emb, grid, cv=cv, scoring=scoring, refit=False, n_jobs=1).fit(X, y)
    with joblib.parallel_config(backend="dask"):
        many = GridSearchCV(emb, grid, cv=cv, scoring=scoring, refit=False, n_jobs=-1).fit(X, y)
    for key in one.cv_results_:
        if key.startswith(("split", "mean_test", "std_test", "rank")):
            np.testing.assert_array_equal(many.cv_results_[key], one.cv_results_[key], err_msg=key)


def test_a_user_term_runs_in_the_dask_runner(client, serial, tmp_path):
    from user_terms import MarginRanking  # a researcher's module, outside the package

    settings = CompareSettings(**{**TINY, "losses": ("PL", "PL+MR")}, terms={"mr": MarginRanking(margin=0.2)})
    result = compare(settings, out=tmp_path, verbose=0, scheduler=client)
    ndcg = [value for config, _, metric, value in _metrics(result) if (config, metric) == ("PL+MR", "ndcg")]
    assert len(ndcg) == 2 and np.isfinite(ndcg).all()  # both folds fit on the workers and scored
    # The baseline's figures are the serial run's: the user term changed nothing else.
    assert [m for m in _metrics(result) if m[0] == "PL"] == [m for m in _metrics(serial) if m[0] == "PL"]
    again = compare(settings, out=tmp_path, verbose=0)  # in this process: resumed from the records
    assert _metrics(again) == _metrics(result)
