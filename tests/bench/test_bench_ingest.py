"""bench/ingest.py's fast, deterministic parts: the lag maths, "sustained", the summary line, the city config.

No benchmark runs here: the harness itself is exercised by running it (docs/bench-ingest.md).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading

import pytest

from bench import lagstats as ls
from bench.baselines import CameraStats, analysis_size, check_params, snapshot
from bench.baselines.frigate_style import ffmpeg_command
from bench.citygen import camera_path, city_config, write_city
from bench.contenders import snapshot_from
from bench.ingest import Result, open_too_slow, parse_args, print_report, summary
from bench.procstat import tree_pids
from cctv.analysis.analyzer import CheckParams
from cctv.config import load_config
from cctv.config.loader import ConfigError
from cctv.sites import Sites
from streams.sim.process import sim_cameras

EDGES = (10.0, 20.0, 50.0, 100.0)  # + an overflow bucket


# -- lag of one camera ------------------------------------------------------------------------------


def test_lag_is_offset_above_the_least_offset_of_the_session():
    lag = ls.CameraLag(EDGES)
    assert lag.observe(pts_s=0.0, done_mono=100.0) == 0.0  # the first frame defines the least offset
    assert lag.observe(0.5, 100.53) == pytest.approx(30.0)
    assert lag.observe(1.0, 100.99) == 0.0  # a smaller offset becomes the new least one
    assert lag.observe(1.5, 101.6) == pytest.approx(110.0)  # overflow bucket
    assert lag.hist == [2, 0, 1, 0, 1]


def test_a_new_session_forgets_the_least_offset_but_keeps_the_counts():
    lag = ls.CameraLag(EDGES)
    lag.observe(0.0, 100.0)
    lag.observe(1.0, 101.04)
    lag.new_session()  # reconnect: presentation times restart from 0
    assert lag.observe(0.0, 200.0) == 0.0
    assert lag.hist == [2, 0, 1, 0, 0]


def test_bucket_edges_are_inclusive_upper_bounds():
    lag = ls.CameraLag((250.0, 500.0))
    lag.observe(0.0, 0.0)
    assert lag.observe(1.0, 1.25) == 250.0  # exactly on the edge (binary fractions)
    assert lag.hist == [2, 0, 0]


# -- histograms and windows -------------------------------------------------------------------------


def test_percentile_interpolates_inside_its_bucket():
    counts = [50, 0, 48, 2, 0]  # 100 samples
    assert ls.percentile(EDGES, counts, 0.5) == pytest.approx(10.0)
    assert ls.percentile(EDGES, counts, 0.25) == pytest.approx(5.0)
    assert ls.percentile(EDGES, counts, 0.74) == pytest.approx(20 + 30 * 24 / 48)
    assert ls.percentile(EDGES, counts, 0.99) == pytest.approx(50 + 50 * 0.5)


def test_percentile_in_the_overflow_bucket_is_infinite_and_empty_is_none():
    assert ls.percentile(EDGES, [1, 0, 0, 0, 99], 0.99) == math.inf
    assert ls.percentile(EDGES, [0, 0, 0, 0, 0], 0.5) is None


def test_an_open_ended_last_edge_works_like_an_overflow_bucket():
    # cctv run's format: as many counts as edges, the last edge infinite (null in JSON)
    edges = (10.0, 20.0, math.inf)
    assert ls.percentile(edges, [0, 10, 0], 0.5) == pytest.approx(15.0)
    assert ls.percentile(edges, [0, 0, 3], 0.5) == math.inf
    assert ls.hist_mean(edges, [0, 0, 3]) == 20.0


def test_histogram_shapes_that_do_not_fit_are_refused():
    with pytest.raises(ValueError, match="do not fit"):
        ls.percentile(EDGES, [1, 2], 0.5)
    with pytest.raises(ValueError, match="different lengths"):
        ls.hist_diff([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="went down"):
        ls.hist_diff([5, 0], [4, 1])


def test_window_growth_is_the_mean_of_the_second_half_minus_the_first():
    start = [100, 0, 0, 0, 0]  # before the window: ignored
    middle = [100 + 10, 0, 0, 0, 0]  # first half: 10 samples in (0, 10] -> mean 5
    end = [110, 0, 0, 10, 0]  # second half: 10 samples in (50, 100] -> mean 75
    p50, p99, growth = ls.window_lag(EDGES, start, middle, end)
    assert growth == pytest.approx(70.0)
    assert p50 == pytest.approx(10.0)
    assert p99 == pytest.approx(50 + 50 * 9.8 / 10)


def test_sum_hists_adds_bucket_by_bucket():
    assert ls.sum_hists([[1, 2, 3], [0, 1, 0]]) == [1, 3, 3]
    assert ls.sum_hists([]) == []


# -- sustained, per core, ratios --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("receiving", "p99", "growth", "expected"),
    [
        (100, 400.0, 10.0, True),
        (99, 400.0, 10.0, False),  # one camera not receiving
        (100, 1000.0, 10.0, False),  # p99 must be below 1 s
        (100, math.inf, 10.0, False),
        (100, 400.0, 250.0, False),  # growth must be below 0.25 s
        (100, None, None, None),  # lag unknown: cannot be judged
        (None, 400.0, 10.0, None),
        (99, None, None, False),  # a known failure decides even without lag
    ],
)
def test_sustained(receiving, p99, growth, expected):
    assert ls.is_sustained(100, receiving, p99, growth) is expected


def test_largest_sustained_and_per_core():
    assert ls.largest_sustained([(50, True), (100, True), (200, False)]) == 100
    assert ls.largest_sustained([(50, False)]) == 0
    assert ls.largest_sustained([(50, None), (100, False)]) is None
    assert ls.cameras_per_core(250, 80.0) == pytest.approx(312.5)
    assert ls.cameras_per_core(0, None) == 0.0
    assert ls.cameras_per_core(None, 50.0) is None
    assert ls.ratio(300.0, 75.0) == 4.0
    assert ls.ratio(300.0, 0.0) is None


def _row(k, name, cpu, sustained, status="measured"):
    return Result(k, name, status=status, cpu_pct=cpu, sustained=sustained, min_receiving=k,
                  receiving_from="cameras_receiving", p50_ms=20.0, p99_ms=300.0, growth_ms=1.0, errors=0)  # fmt: skip


def test_summary_is_the_json_line_of_the_issue():
    results = [
        _row(50, "ours", 15.0, True),
        _row(200, "ours", 60.0, True),
        _row(300, "ours", 150.0, False),
        _row(50, "frigate_style", 60.0, True),
        _row(200, "frigate_style", 190.0, False),
        Result(300, "frigate_style", status="skipped: not sustained at K=200", sustained=None),
        _row(50, "opencv", 50.0, True),
        Result(200, "opencv", status="failed: 120/200 receiving after 270 s"),
    ]
    s = summary(results)
    assert s == {
        "sustained": {"ours": 200, "frigate_style": 50, "opencv": 50},
        "cameras_per_core": {"ours": 333.3, "frigate_style": 83.3, "opencv": 100.0},
        "ratio_frigate": 4.0,
        "ratio_opencv": 3.33,
    }
    assert json.loads(json.dumps(s)) == s


def test_summary_of_a_contender_that_was_not_run_or_never_opened():
    s = summary([_row(50, "ours", 15.0, True), Result(50, "opencv", status="failed: exited with code 1")])
    assert s["sustained"] == {"ours": 50, "frigate_style": None, "opencv": 0}
    assert s["cameras_per_core"]["opencv"] == 0.0
    assert s["ratio_frigate"] is None and s["ratio_opencv"] is None


def test_report_ends_with_the_ratios(capsys):
    args = parse_args(["--k", "50", "--seconds", "10"])
    s = print_report([_row(50, "ours", 15.0, True), _row(50, "frigate_style", 60.0, True)], args)
    out = capsys.readouterr().out
    assert "p99 ms" in out and "  50 ours " in out and "0.300" in out  # 15 % of a core over 50 cameras
    assert "ours / frigate_style = 4.00" in out
    assert s["ratio_frigate"] == 4.0


def test_a_serial_opener_too_slow_for_the_next_k_is_failed_up_front():
    assert open_too_slow(None, 250, 75.0) is None  # nothing seen yet
    assert open_too_slow((50, 0.9), 80, 75.0) is None  # 72 s: may make it
    why = open_too_slow((50, 0.9), 150, 75.0)
    assert why is not None and "~135 s to open 150 cameras" in why and "0.90 s per camera at K=50" in why


def test_options(capsys):
    quick = parse_args(["--quick"])
    assert quick.k == [50, 150, 250] and quick.seconds == 15 and quick.open_timeout_for(250) == 75
    full = parse_args([])
    assert full.k == [50, 100, 200, 300, 400] and full.open_timeout_for(100) == pytest.approx(150)
    for bad, says in ((["--k", "50,x"], "--k: expected"), (["--contenders", "ours,vlc"], "unknown vlc")):
        with pytest.raises(SystemExit) as exc:
            parse_args(bad)
        assert exc.value.code == 2 and says in capsys.readouterr().err


# -- figures as the contenders report them -----------------------------------------------------------


def test_snapshot_from_healthz_with_a_null_last_edge():
    ingest = {"cameras_receiving": 7, "samples_analysed": 40, "errors": 1,
              "lag_edges_ms": [5, 10, None], "lag_hist_ms": [30, 9, 1]}  # fmt: skip
    s = snapshot_from(ingest, 12.5)
    assert (s.t, s.receiving, s.samples, s.errors) == (12.5, 7, 40, 1)
    assert s.edges == [5.0, 10.0, math.inf] and s.hist == [30, 9, 1]


def test_snapshot_from_an_older_healthz_says_nothing_it_does_not_know():
    s = snapshot_from({"workers": 10, "packets": 999, "lag_edges_ms": [5], "lag_hist_ms": [1, 2, 3]}, 1.0)
    assert (s.receiving, s.samples, s.errors, s.edges, s.hist) == (None, None, None, None, None)


def test_baseline_snapshot_counts_receiving_cameras_and_sums_histograms():
    a, b, c = CameraStats(), CameraStats(), CameraStats()
    a.last_frame, b.last_frame = 96.0, 94.9  # at t=100: a within 5 s, b not, c never
    a.samples, b.samples, a.errors = 3, 2, 1
    a.lag.observe(0.0, 0.0)
    b.lag.observe(0.0, 0.0)
    line = snapshot({"a": a, "b": b, "c": c}, 100.0)
    assert line["cameras"] == 3 and line["cameras_receiving"] == 1
    assert line["samples_analysed"] == 5 and line["errors"] == 1
    assert sum(line["lag_hist_ms"]) == 2 and len(line["lag_hist_ms"]) == len(line["lag_edges_ms"]) + 1
    back = snapshot_from(json.loads(json.dumps(line)), line["t"])
    assert back.hist == line["lag_hist_ms"] and back.receiving == 1


def test_frigate_style_command_is_the_one_of_the_issue():
    w, h = analysis_size(160)
    assert (w, h) == (160, 90)
    cmd = ffmpeg_command("rtsp://cam/x", w, h)
    assert cmd[1:] == ["-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", "rtsp://cam/x",
                       "-vf", "fps=5,scale=160:90", "-f", "rawvideo", "-pix_fmt", "gray", "pipe:"]  # fmt: skip


# -- the city -----------------------------------------------------------------------------------------


def test_city_config_loads_with_the_project_loader(tmp_path):
    path = write_city(
        tmp_path / "city.yaml", 250, data_dir=tmp_path / "data", rtsp_port=18554, control_port=18555
    )
    config = load_config(path)
    cams = Sites(config).cameras
    assert len(cams) == 250 and len({c.path for c in cams}) == 250
    assert cams[26].path == camera_path(26) == "kec-01/kel-03/rt-07/cam-1"
    assert all(c.url.startswith("rtsp://127.0.0.1:18554/") and c.url.endswith(c.path) for c in cams)
    assert config.recording.enabled is False and config.ingest.decode == "keyframes"
    assert (config.sim.rtsp_port, config.sim.control_port) == (18554, 18555)
    served = sim_cameras(config)
    assert len({s.mount for s in served}) == 250
    assert len({(s.scene, s.seed, s.night) for s in served}) <= 6  # few clips to encode, shared by all
    assert check_params(config) == CheckParams()  # the baselines run the checks cctv run would


def test_city_of_a_bad_size_is_refused_and_nothing_written(tmp_path):
    with pytest.raises(ValueError, match="camera count must be 1.."):
        write_city(tmp_path / "city.yaml", 0, data_dir=tmp_path)
    assert not (tmp_path / "city.yaml").exists()


def test_city_config_with_clashing_ports_is_rejected_by_the_loader(tmp_path):
    path = write_city(tmp_path / "city.yaml", 3, data_dir=tmp_path, rtsp_port=18554, control_port=18554)
    with pytest.raises(ConfigError, match="must differ"):
        load_config(path)


def test_city_config_is_plain_data():
    cfg = city_config(12, data_dir="/d", rtsp_port=1, control_port=2)
    assert [len(k["kelurahan"]) for k in cfg["kecamatan"]] == [2]
    assert [len(kel["rt"]) for kel in cfg["kecamatan"][0]["kelurahan"]] == [10, 2]


# -- process tree -------------------------------------------------------------------------------------


def test_tree_includes_children_started_from_other_threads():
    """A baseline starts one ffmpeg per camera thread: /proc lists such a child under that thread only."""
    box: list[subprocess.Popen] = []
    t = threading.Thread(target=lambda: box.append(subprocess.Popen([sys.executable, "-c", "input()"],
                                                                    stdin=subprocess.PIPE)))  # fmt: skip
    t.start()
    t.join()
    child = box[0]
    try:
        assert child.pid in tree_pids(os.getpid())
    finally:
        child.kill()
        child.wait()
