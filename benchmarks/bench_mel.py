"""Throughput of the audio front end: MelTransformer backends and AudioLoader's n_jobs.

Mel spectrograms (paper settings: 1 s at 44.1 kHz, n_fft 2048, hop 512, 128 mels, dB) of the
same clips, float32, through:
  - librosa, clip by clip (``backend="librosa"``): what a user would write without us;
  - torchaudio batched on the CPU, at batch_size="auto" (32 on the CPU) and at 256;
  - the default ``MelTransformer()`` (backend and device "auto");
  - torchaudio batched on CUDA (only where a GPU is present), at batch_size="auto" (256 on
    CUDA) and 1024, returning numpy, and returning a tensor left on the GPU (``output="torch"``).
Every row times the whole ``transform``, input checks included. A second table times the check
of the input alone (every sample finite, the bad rows named), against the naive
``np.isfinite(X).all(axis=1)`` and scikit-learn's ``check_array``: on a GPU machine the
spectrograms themselves are fast enough for a host-side pass over the waveforms to weigh.
Each row is the best of ``--repeat`` runs, the rows taking turns so that background load hits
them alike; ratios are against librosa in the same run.

AudioLoader: files/s reading one second from 1.5 s wav files, at 44.1 kHz (no resampling) and
at 48 kHz (soxr resampling), with n_jobs=1 and 2 (threads, the loader's default), and with 2
worker processes (loky) for comparison. The files were just written, so they are read from
the page cache: this measures decoding and resampling, not the disk.

Run: python benchmarks/bench_mel.py [--n-clips 5000] [--n-files 1000] [--repeat 3] [--parts mel loader]
"""

import argparse
import os
import platform
import tempfile
import time
from functools import partial

import joblib
import numpy as np
import soundfile as sf
import torch
from sklearn.utils import check_array

from sklearn_hier._device import auto_device
from sklearn_hier.audio import AudioLoader, MelTransformer
from sklearn_hier.audio.mel import _finite_rows

SR = 44100


def best_times(runs, repeat):
    """Best wall time of each run, taking turns so that every run sees the same background load."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def test_clips(n_clips):
    """Tones with harmonics over noise, at levels from -60 to 0 dBFS: one second each, float32."""
    rng = np.random.default_rng(0)
    t = np.arange(SR, dtype=np.float32) / SR
    freqs = rng.uniform(55, 1760, size=(n_clips, 1)).astype(np.float32)
    levels = (10 ** rng.uniform(-3, 0, size=(n_clips, 1))).astype(np.float32)
    clips = sum(np.sin(2 * np.pi * k * freqs * t) / k for k in range(1, 4))
    clips += 0.01 * rng.standard_normal((n_clips, SR), dtype=np.float32)
    return clips * levels


def transform_all(mel, clips, sync):
    mel.transform(clips)
    if sync:
        torch.cuda.synchronize()  # the tensor-out row returns before the GPU has finished


def mel_rows(clips, repeat):
    rows = [
        ("librosa, clip by clip", MelTransformer(backend="librosa"), False),
        ("torch CPU, batch_size=auto (32)", MelTransformer(backend="torch", device="cpu"), False),
        ("torch CPU, batch_size=256", MelTransformer(backend="torch", device="cpu", batch_size=256), False),
        ("MelTransformer() (auto, auto)", MelTransformer(), False),
    ]
    if torch.cuda.is_available():
        rows += [
            ("torch CUDA, batch_size=auto (256), numpy out", MelTransformer(device="cuda"), False),
            ("torch CUDA, batch_size=auto (256), tensor out", MelTransformer(device="cuda", output="torch"), True),
            ("torch CUDA, batch_size=1024, numpy out", MelTransformer(device="cuda", batch_size=1024), False),
            (
                "torch CUDA, batch_size=1024, tensor out",
                MelTransformer(device="cuda", batch_size=1024, output="torch"),
                True,
            ),
        ]
    runs = {}
    for name, mel, sync in rows:
        mel.fit(clips[:1])
        mel.transform(
            clips[: 2 * mel.batch_size_for(auto_device(mel.device))]
        )  # warm-up: allocator, FFT plans, CUDA context
        runs[name] = partial(transform_all, mel, clips, sync)
    return [(name, len(clips) / seconds) for name, seconds in best_times(runs, repeat).items()]


def print_rate_table(title, first_column, results, base, against):
    """A Markdown table of (name, clips/s) rows with each rate's ratio to ``results[base]``."""
    print(f"\n{title}")
    print(f"| {first_column} | clips/s | vs {against} |")
    print("|---|---|---|")
    for name, rate in results:
        print(f"| {name} | {rate:,.0f} | {rate / results[base][1]:.2f}x |")


def print_mel_table(results, n_clips):
    title = f"MelTransformer, {n_clips} clips of 1 s at 44.1 kHz -> 128 x 87 dB mels"
    print_rate_table(title, "configuration", results, base=0, against="librosa")
    if not torch.cuda.is_available():
        print("| torch CUDA | not measured: no CUDA GPU on this machine | |")


def check_rows(clips, repeat):
    """clips/s of checking the waveforms alone: ours, the naive per-sample check, scikit-learn's."""
    runs = {
        "ours: `_finite_rows` (row sums, then the suspect rows)": partial(_finite_rows, clips),
        "`np.isfinite(X).all(axis=1)` (the check before)": lambda: np.isfinite(clips).all(axis=1),
        "`sklearn.utils.check_array(X)` (no rows named)": partial(check_array, clips),
    }
    return [(name, len(clips) / seconds) for name, seconds in best_times(runs, repeat).items()]


def print_check_table(results, n_clips):
    title = f"Input check alone, {n_clips} clips of 1 s at 44.1 kHz, float32 (on the CPU, before any upload)"
    print_rate_table(title, "check", results, base=1, against="np.isfinite")


def write_files(folder, n_files, sr):
    rng = np.random.default_rng(1)
    paths = []
    for i in range(n_files):
        path = os.path.join(folder, f"{sr}_{i}.wav")
        sf.write(path, 0.1 * rng.standard_normal(int(1.5 * sr)).astype(np.float32), sr, subtype="PCM_16")
        paths.append(path)
    return paths


def read_all(loader, paths, backend):
    if backend is None:
        return loader.transform(paths)
    with joblib.parallel_config(backend=backend):
        return loader.transform(paths)


def loader_rows(n_files, repeat):
    runs = {}
    with tempfile.TemporaryDirectory() as folder:
        for native_sr in (44100, 48000):
            paths = write_files(folder, n_files, native_sr)
            for label, n_jobs, backend in [("threads", 1, None), ("threads", 2, None), ("loky processes", 2, "loky")]:
                run = partial(read_all, AudioLoader(sr=SR, duration=1.0, n_jobs=n_jobs), paths, backend)
                run()  # warm-up: page cache, worker start
                runs[native_sr, f"n_jobs={n_jobs} ({label})"] = run
        best = best_times(runs, repeat)
    return [(native_sr, name, n_files / seconds) for (native_sr, name), seconds in best.items()]


def print_loader_table(results, n_files):
    print(f"\nAudioLoader, {n_files} wav files (PCM 16, 1.5 s), 1 s read at 44.1 kHz")
    print("| file rate | n_jobs | files/s | vs n_jobs=1 |")
    print("|---|---|---|---|")
    for native_sr in (44100, 48000):
        rows = [(name, rate) for sr, name, rate in results if sr == native_sr]
        base = rows[0][1]
        for name, rate in rows:
            print(f"| {native_sr} Hz | {name} | {rate:,.0f} | {rate / base:.2f}x |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-clips", type=int, default=5000)
    parser.add_argument("--n-files", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--parts", nargs="+", choices=["mel", "loader"], default=["mel", "loader"])
    args = parser.parse_args()
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA GPU"
    cores = f"{os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}"
    print(f"machine: {platform.machine()}, {cores}, {device}")
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    clips = test_clips(args.n_clips)
    if "mel" in args.parts:
        print_mel_table(mel_rows(clips, args.repeat), args.n_clips)
        print_check_table(check_rows(clips, args.repeat), args.n_clips)
    if "loader" in args.parts:
        print_loader_table(loader_rows(args.n_files, args.repeat), args.n_files)
    print("\nload average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
