"""cfcore.runs.zip: export/load round trip, every rule that refuses a hostile archive, and crafted model files that
are refused or never opened."""

from __future__ import annotations

import io
import json
import stat
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cfcore import constants as C
from cfcore.analysis.predict import predict
from cfcore.runs.run import load_run
from cfcore.runs.zip import RUN_ZIP_FILES, RunZipError, export_run_zip, load_run_from_zip, load_run_zip, scratch_root
from cfcore.training.build import load_model
from cfcore.training.weights import UnsafeWeightsError
from tests.support.crafted import SECRET, crafted_model, crafted_run_zip


@pytest.fixture(scope="module")
def run_files(tiny_run_dir) -> dict[str, bytes]:
    return {name: (tiny_run_dir / name).read_bytes() for name in RUN_ZIP_FILES}


def make_zip(members, *, compression=zipfile.ZIP_DEFLATED, tweak=None) -> bytes:
    """A zip of (name, bytes) pairs written verbatim; ``tweak(zf)`` may edit the central directory."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are the point of one test
        with zipfile.ZipFile(buffer, "w", compression=compression) as zf:
            for name, data in members:
                info = zipfile.ZipInfo(name)
                info.compress_type = compression
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                zf.writestr(info, data)
            if tweak:
                tweak(zf)
    return buffer.getvalue()


def run_members(files, top="myrun"):
    return [(f"{top}/{name}" if top else name, data) for name, data in files.items()]


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def assert_rejected(data, tmp_path, match, **kwargs) -> RunZipError:
    """The zip is refused with a message matching ``match``, and nothing is left anywhere."""
    dest = tmp_path / "dest"
    before = listing(tmp_path)
    with pytest.raises(RunZipError, match=match) as info:
        load_run_zip(data, dest, **kwargs)
    after = [p for p in listing(tmp_path) if p != "dest"]
    assert after == [p for p in before if p != "dest"]
    assert not dest.exists() or listing(dest) == []
    assert "Traceback" not in str(info.value)
    return info.value


# ---------------------------------------------------------------------------
# Round trip
# ---------------------------------------------------------------------------


def test_run_file_names_match_save_run():
    from cfcore.runs.folder import RUN_FILES

    assert set(RUN_ZIP_FILES) == set(RUN_FILES)
    assert set(C.RUN_ZIP_MAX_FILE_BYTES) == set(RUN_FILES)


def test_export_then_load_round_trip(tiny_run, tiny_run_dir, tmp_path):
    data = export_run_zip(tiny_run_dir)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == sorted(f"{tiny_run_dir.name}/{n}" for n in RUN_ZIP_FILES)
    run = load_run_from_zip(data)
    # Nothing is kept: the extracted files are gone (+524 MB per load once stayed on disk).
    assert run.path is None and not scratch_root().exists()
    assert run.dataset.fingerprint == tiny_run.dataset.fingerprint
    expected = [row["val_rmse"] for row in tiny_run.result.history]
    assert [row["val_rmse"] for row in run.result.history] == pytest.approx(expected)
    x = tiny_run.split.x_val[:50]
    np.testing.assert_allclose(predict(run, x[:, 0], x[:, 1]), tiny_run.model.predict(x, verbose=0)[:, 0],
                               rtol=1e-5)
    np.testing.assert_array_equal(run.split.val_rows, tiny_run.split.val_rows)


def test_each_load_gets_a_fresh_folder(tiny_run_dir, tmp_path):
    data = export_run_zip(tiny_run_dir)
    first = load_run_zip(data, tmp_path)
    second = load_run_zip(io.BytesIO(data), tmp_path)
    assert first != second and first.parent != second.parent
    assert sorted(p.name for p in first.iterdir()) == sorted(RUN_ZIP_FILES)


def test_zip_without_top_folder_is_accepted(run_files, tmp_path):
    folder = load_run_zip(make_zip(run_members(run_files, top=None)), tmp_path)
    assert folder.name == "run" and folder.parent.parent == tmp_path
    assert (folder / "model.keras").read_bytes() == run_files["model.keras"]


def test_top_folder_entry_is_accepted(run_files, tmp_path):
    data = make_zip([("myrun/", b""), *run_members(run_files)])
    assert load_run_zip(data, tmp_path).name == "myrun"


def test_odd_top_folder_name_is_replaced(run_files, tmp_path):
    assert load_run_zip(make_zip(run_members(run_files, top="ça va?")), tmp_path).name == "run"


def test_export_refuses_an_incomplete_folder(tiny_run_dir, tmp_path):
    for name in RUN_ZIP_FILES[:-1]:
        (tmp_path / name).write_bytes((tiny_run_dir / name).read_bytes())
    with pytest.raises(RunZipError, match="missing ratings.npz"):
        export_run_zip(tmp_path)


# ---------------------------------------------------------------------------
# Not a zip / corrupt
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"hello, world", b"PK\x03\x04" + b"\x00" * 40, bytes(range(256)) * 4])
def test_garbage_is_not_a_zip(data, tmp_path):
    assert_rejected(data, tmp_path, "not a (readable )?zip")


def test_truncated_zip(run_files, tmp_path):
    data = make_zip(run_members(run_files))
    assert_rejected(data[: len(data) // 2], tmp_path, "not a (readable )?zip")


def test_corrupt_data_fails_the_crc(run_files, tmp_path):
    data = bytearray(make_zip(run_members(run_files), compression=zipfile.ZIP_STORED))
    offset = bytes(data).index(run_files["users.csv"][:40]) + 20
    data[offset] ^= 0xFF
    assert_rejected(bytes(data), tmp_path, r"corrupt member 'myrun/users.csv' \(CRC mismatch\)")


def test_wrong_crc_in_directory(run_files, tmp_path):
    def tweak(zf):
        zf.filelist[1].CRC ^= 1

    assert_rejected(make_zip(run_members(run_files), tweak=tweak), tmp_path, "CRC mismatch")


def test_text_stream_is_refused(tmp_path):
    assert_rejected(io.StringIO("not bytes"), tmp_path, "expected binary data")


# ---------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, match",
    [
        ("../model.keras", r"outside the target folder"),
        ("myrun/../../model.keras", r"outside the target folder"),
        ("..\\..\\model.keras", r"outside the target folder"),
        ("/tmp/model.keras", r"absolute path"),
        ("\\model.keras", r"absolute path"),
        ("C:/model.keras", r"drive letter"),
        ("C:model.keras", r"drive letter"),
        ("myrun/\x1bmodel.keras", r"control characters"),
        ("myrun/evil.py", r"unexpected file 'myrun/evil.py'; a run zip holds only model.keras"),
        ("myrun/sub/model.keras", r"unexpected nested path"),
        ("myrun\\model.keras", r"unexpected file"),
        ("__MACOSX/._model.keras", r"unexpected file"),
    ],
)
def test_bad_member_names(run_files, tmp_path, name, match):
    members = run_members(run_files)
    members[0] = (name, members[0][1])
    assert_rejected(make_zip(members), tmp_path, match)


def test_extra_file_next_to_the_run_files(run_files, tmp_path):
    data = make_zip([*run_members(run_files), ("myrun/notes.txt", b"hello")])
    assert_rejected(data, tmp_path, "unexpected file 'myrun/notes.txt'")


def test_duplicate_names(run_files, tmp_path):
    data = make_zip([*run_members(run_files), ("myrun/config.json", b'{"epochs": 1}')])
    assert_rejected(data, tmp_path, "'config.json' appears more than once")


def test_files_in_two_folders(run_files, tmp_path):
    members = run_members(run_files)
    members[0] = ("other/" + members[0][0].split("/")[1], members[0][1])
    assert_rejected(make_zip(members), tmp_path, "spread over several folders")


def test_missing_run_file(run_files, tmp_path):
    members = [m for m in run_members(run_files) if not m[0].endswith("ratings.npz")]
    assert_rejected(make_zip(members), tmp_path, "missing ratings.npz")


def test_nested_folder_entry(run_files, tmp_path):
    assert_rejected(make_zip([*run_members(run_files), ("myrun/sub/", b"")]), tmp_path, "unexpected folder")


# ---------------------------------------------------------------------------
# Member types
# ---------------------------------------------------------------------------


def test_symlink_member(run_files, tmp_path):
    def tweak(zf):
        zf.filelist[0].external_attr = (stat.S_IFLNK | 0o777) << 16

    members = run_members(run_files)
    members[0] = ("myrun/model.keras", b"/etc/passwd")
    assert_rejected(make_zip(members, tweak=tweak), tmp_path, "'myrun/model.keras' is a symbolic link")


def test_device_file_member(run_files, tmp_path):
    def tweak(zf):
        zf.filelist[2].external_attr = (stat.S_IFCHR | 0o644) << 16

    assert_rejected(make_zip(run_members(run_files), tweak=tweak), tmp_path, "is not a regular file")


def test_encrypted_member(run_files, tmp_path):
    def tweak(zf):
        zf.filelist[3].flag_bits |= 0x1

    assert_rejected(make_zip(run_members(run_files), tweak=tweak), tmp_path, "is encrypted")


def test_unusual_compression(run_files, tmp_path):
    data = make_zip(run_members(run_files), compression=zipfile.ZIP_BZIP2)
    assert_rejected(data, tmp_path, "compression method 12")


# ---------------------------------------------------------------------------
# Sizes and counts (zip bombs)
# ---------------------------------------------------------------------------


def test_member_over_its_own_limit(run_files, tmp_path):
    files = dict(run_files)
    files["config.json"] = b" " * (C.RUN_ZIP_MAX_FILE_BYTES["config.json"] + 1)
    assert_rejected(make_zip(run_members(files)), tmp_path, "config.json would extract to 65,537 bytes")


def test_total_over_the_limit(run_files, tmp_path):
    total = sum(len(v) for v in run_files.values())
    err = assert_rejected(make_zip(run_members(run_files)), tmp_path, "over the limit of", max_bytes=total - 1)
    assert f"{total:,}" in str(err)


def test_highly_compressed_bomb(run_files, tmp_path, monkeypatch):
    # 40 MB of zeros compresses to about 40 KB: refused from its declared size, before any inflation.
    monkeypatch.setitem(C.RUN_ZIP_MAX_FILE_BYTES, "ratings.npz", 8 * 1024 * 1024)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in run_members(run_files):
            if name.endswith("ratings.npz"):
                with zf.open(name, "w") as out:
                    for _ in range(40):
                        out.write(bytes(1 << 20))
            else:
                zf.writestr(name, data)
    data = buffer.getvalue()
    assert len(data) < 500_000
    assert_rejected(data, tmp_path, r"ratings.npz would extract to 41,943,040 bytes, over its limit of 8,388,608")


def test_bomb_that_lies_about_its_size(run_files, tmp_path):
    # The directory claims 1 KB but the member inflates to 50 MB: counting the real bytes catches it.
    files = dict(run_files)
    files["history.csv"] = bytes(50 * 1024 * 1024)

    def tweak(zf):
        for info in zf.filelist:
            if info.filename.endswith("history.csv"):
                info.file_size = 1024

    data = make_zip(run_members(files), tweak=tweak)
    assert_rejected(data, tmp_path, "history.csv.*(CRC mismatch|expands past the limit)")


def test_counting_limit_when_sizes_lie(run_files, tmp_path, monkeypatch):
    # The directory claims 1 KB; zipfile is made to trust the stream instead, so only our own count is left.
    files = dict(run_files)
    files["history.csv"] = bytes(5 * 1024 * 1024)

    def tweak(zf):
        for info in zf.filelist:
            if info.filename.endswith("history.csv"):
                info.file_size = 1024

    data = make_zip(run_members(files), tweak=tweak)
    monkeypatch.setitem(C.RUN_ZIP_MAX_FILE_BYTES, "history.csv", 2 * 1024 * 1024)
    real_open = zipfile.ZipFile.open

    def trusting_open(self, name, *args, **kwargs):
        handle = real_open(self, name, *args, **kwargs)
        if getattr(name, "filename", "").endswith("history.csv"):
            handle._left = 10**12
            handle._expected_crc = None
        return handle

    monkeypatch.setattr(zipfile.ZipFile, "open", trusting_open)
    assert_rejected(data, tmp_path, r"history.csv' expands past the limit of 2,097,152 bytes")


def test_too_many_members(run_files, tmp_path):
    members = run_members(run_files) + [(f"myrun/extra{i}.txt", b"x") for i in range(C.RUN_ZIP_MAX_MEMBERS)]
    assert_rejected(make_zip(members), tmp_path, rf"{len(members)} members, over the limit of 16")


def test_forged_member_count_is_refused_before_parsing(tmp_path):
    # An end record claiming 65,535 members (as ZIP64 archives do) is refused from the record alone.
    eocd = b"PK\x05\x06" + (0).to_bytes(4, "little") + (0xFFFF).to_bytes(2, "little") * 2 + bytes(10)
    assert_rejected(eocd, tmp_path, "65,535 members")


def test_input_over_the_size_limit(run_files, tmp_path):
    data = make_zip(run_members(run_files))
    assert_rejected(io.BytesIO(data), tmp_path, "over the limit of 1,000 bytes", max_input_bytes=1000)


# ---------------------------------------------------------------------------
# The nested zips: model.keras and ratings.npz
# ---------------------------------------------------------------------------


def _rezip(original: bytes, extra=(), drop=()) -> bytes:
    with zipfile.ZipFile(io.BytesIO(original)) as zf:
        members = [(n, zf.read(n)) for n in zf.namelist() if n not in drop]
    return make_zip([*members, *extra], compression=zipfile.ZIP_STORED)


@pytest.mark.parametrize(
    "extra, match", [("assets/vocab.txt", "unexpected member 'assets/vocab.txt'"), ("../../x", "outside")]
)
def test_model_with_extra_members_is_refused(run_files, tmp_path, extra, match):
    # Keras would extract extra members into the system temp folder: refuse before it opens the file.
    files = dict(run_files)
    files["model.keras"] = _rezip(run_files["model.keras"], extra=[(extra, b"x")])
    assert_rejected(make_zip(run_members(files)), tmp_path, "model.keras: .*" + match)


def test_model_that_is_not_a_zip(run_files, tmp_path):
    files = dict(run_files)
    files["model.keras"] = b"\x89HDF\r\n" + bytes(100)
    assert_rejected(make_zip(run_members(files)), tmp_path, "model.keras: not a zip archive")


def test_model_with_bomb_weights(run_files, tmp_path, monkeypatch):
    monkeypatch.setitem(C.RUN_ZIP_MAX_FILE_BYTES, "model.keras", 4 * 1024 * 1024)
    files = dict(run_files)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zipfile.ZipFile(io.BytesIO(run_files["model.keras"])) as src:
            zf.writestr("config.json", src.read("config.json"))
            zf.writestr("metadata.json", src.read("metadata.json"))
        with zf.open("model.weights.h5", "w") as out:
            for _ in range(10):
                out.write(bytes(1 << 20))
    files["model.keras"] = inner.getvalue()
    assert len(files["model.keras"]) < 100_000
    assert_rejected(make_zip(run_members(files)), tmp_path, "model.keras: declares 10,4.* over the limit of 4,194,304")


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


GOOD_ARRAYS = {
    "user": np.array([0, 1, 2], dtype=np.int32),
    "movie": np.array([0, 0, 1], dtype=np.int32),
    "rating": np.array([4.0, 3.5, 1.0], dtype=np.float32),
    "val_rows": np.array([1], dtype=np.int64),
}


@pytest.mark.parametrize(
    "change, match",
    [
        ({"user": np.array([0, -1, 2], dtype=np.int32)}, "user holds negative indices"),
        ({"val_rows": np.array([1, 1])}, "val_rows must be distinct"),
        ({"val_rows": np.array([7])}, "val_rows must be distinct row numbers below 3"),
        ({"rating": np.array([4.0, np.nan, 1.0], dtype=np.float32)}, "rating must hold finite"),
        ({"rating": np.array([4.0, np.inf, 1.0])}, "rating must hold finite"),
        ({"movie": np.array([0.0, 0.0, 1.0])}, "movie must hold integers"),
        ({"movie": np.array([0, 1])}, "inconsistent lengths"),
        ({"user": np.array([[0, 1, 2]])}, "must be a 1-D numeric array"),
        ({"user": np.array([0, "x", None], dtype=object)}, "must be a 1-D numeric array"),
        ({"val_rows": None}, "missing array"),
        ({"extra": np.array([1])}, "unexpected member 'extra.npy'"),
    ],
)
def test_bad_ratings_arrays(run_files, tmp_path, change, match):
    arrays = {**GOOD_ARRAYS, **change}
    arrays = {k: v for k, v in arrays.items() if v is not None}
    files = {**run_files, "ratings.npz": _npz(**arrays)}
    assert_rejected(make_zip(run_members(files)), tmp_path, "ratings.npz: .*" + match)


def _npz_with_fake_rating_header(header: dict) -> bytes:
    """ratings.npz whose rating.npy is only ``header`` and 64 bytes, with real user, movie and val_rows arrays."""
    fake = io.BytesIO()
    np.lib.format.write_array_header_1_0(fake, header)
    fake.write(bytes(64))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for key in ("user", "movie", "val_rows"):
            with zf.open(f"{key}.npy", "w") as out:
                np.lib.format.write_array(out, GOOD_ARRAYS[key])
        zf.writestr("rating.npy", fake.getvalue())
    return buffer.getvalue()


def test_npy_header_claiming_a_huge_array(run_files, tmp_path):
    # A header that promises 10**11 floats must not make NumPy allocate them.
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**11,)}
    files = {**run_files, "ratings.npz": _npz_with_fake_rating_header(header)}
    assert_rejected(make_zip(run_members(files)), tmp_path, "rating.npy declares 100,000,000,000 ratings, over the "
                    "limit of 2,000,000")
    header["shape"] = (1000,)  # under the row limit, but more than the member holds
    files = {**run_files, "ratings.npz": _npz_with_fake_rating_header(header)}
    assert_rejected(make_zip(run_members(files)), tmp_path, "rating.npy claims more data than it holds")


# ---------------------------------------------------------------------------
# Loading the model: safe mode and cleanup
# ---------------------------------------------------------------------------


def _lambda_model_bytes(marker: Path, tmp_path: Path) -> bytes:
    import keras

    # A lambda that leaves a file behind when it runs: the observable sign of code execution.
    code = eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x[:, :1])[1]")  # noqa: S307
    inputs = keras.Input((2,), dtype="int32")
    model = keras.Model(inputs, keras.layers.Lambda(code)(inputs))
    path = tmp_path / "lambda.keras"
    model.save(path)
    return path.read_bytes()


def test_lambda_layer_is_refused_not_run(run_files, tmp_path):
    import keras

    marker = tmp_path / "code-ran"
    model_bytes = _lambda_model_bytes(marker, tmp_path)
    marker.unlink()  # building the model ran the lambda once, legitimately
    # The vector is real: without safe mode, loading this file runs the lambda.
    (tmp_path / "unsafe.keras").write_bytes(model_bytes)
    keras.saving.load_model(tmp_path / "unsafe.keras", safe_mode=False, compile=False)
    assert marker.exists()
    marker.unlink()

    files = {**run_files, "model.keras": model_bytes}
    dest = tmp_path / "uploads"
    # Refused from its declared class before Keras opens it (safe mode is the second line of defence).
    with pytest.raises(RunZipError, match="declares 'Functional', not the cfcore dot_with_bias model .* unopened"):
        load_run_from_zip(make_zip(run_members(files)), dest)
    assert not marker.exists()
    assert listing(dest) == []


def test_model_naming_an_arbitrary_function_is_refused(run_files, tmp_path):
    marker = tmp_path / "code-ran"
    with zipfile.ZipFile(io.BytesIO(run_files["model.keras"])) as zf:
        inner = {n: zf.read(n) for n in zf.namelist()}
    inner["config.json"] = json.dumps(
        {"module": "os", "class_name": "system", "config": {"command": f"touch {marker}"}, "registered_name": None}
    ).encode()
    files = {**run_files, "model.keras": make_zip(inner.items())}
    dest = tmp_path / "uploads"
    with pytest.raises(RunZipError, match="declares 'None', not the cfcore dot_with_bias model"):
        load_run_from_zip(make_zip(run_members(files)), dest)
    assert not marker.exists()
    assert listing(dest) == []


def test_broken_run_is_refused_and_cleaned_up(run_files, tmp_path):
    files = {**run_files, "users.csv": b"index,userId\n0,1\n"}  # too few users for the model
    dest = tmp_path / "uploads"
    with pytest.raises(RunZipError, match="refers to users or movies that are not in users.csv") as info:
        load_run_from_zip(io.BytesIO(make_zip(run_members(files))), dest)
    assert "runzip-" not in str(info.value)  # no server paths in the message
    assert listing(dest) == []


def test_upload_name_is_used_in_messages(tmp_path):
    upload = io.BytesIO(b"garbage")
    upload.name = "/some/where/my-run.zip"
    with pytest.raises(RunZipError, match=r"^my-run.zip: not a zip archive"):
        load_run_zip(upload, tmp_path)


def test_sweep_removes_dead_processes_scratch_and_old_session_folders(tmp_path):
    import os
    import subprocess
    import sys

    from cfcore.runs.zip import SCRATCH_PREFIX, sweep_scratch

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = tmp_path / f"{SCRATCH_PREFIX}{int(gone.stdout)}"
    alive = tmp_path / f"{SCRATCH_PREFIX}{os.getpid()}"
    legacy = tmp_path / "cfcore-session-abc123"
    for folder in (dead, alive, legacy):
        (folder / "run").mkdir(parents=True)
        (folder / "run" / "ratings.npz").write_bytes(bytes(1000))
    assert sorted(sweep_scratch(tmp_path)) == sorted([dead, legacy])
    assert sorted(p.name for p in tmp_path.iterdir()) == [alive.name]


def test_a_zip_bigger_than_the_room_left_is_refused_before_anything_is_written(run_files, tmp_path):
    from cfcore.runs.zip import load_run_from_zip

    data = make_zip(run_members(run_files))
    with pytest.raises(RunZipError, match="would extract to .* bytes, over the limit of 1,000"):
        load_run_from_zip(data, tmp_path / "kept", max_bytes=1000)
    assert not (tmp_path / "kept").exists()
    with pytest.raises(RunZipError, match="over the limit of 1,000 bytes"):
        load_run_from_zip(data, tmp_path / "kept", max_input_bytes=1000)


def test_padded_members_are_refused(run_files, tmp_path):
    """A 343 KB zip once landed as 328 MB: trailing bytes after an array, a padded metadata.json."""
    with zipfile.ZipFile(io.BytesIO(run_files["ratings.npz"])) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    members["rating.npy"] += bytes(4096)
    files = {**run_files, "ratings.npz": make_zip(members.items())}
    assert_rejected(make_zip(run_members(files)), tmp_path, "rating.npy holds 4,096 bytes after its array")
    with zipfile.ZipFile(io.BytesIO(run_files["model.keras"])) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    members["metadata.json"] = b'{"pad": "' + b" " * 100_000 + b'"}'
    files = {**run_files, "model.keras": make_zip(members.items())}
    assert_rejected(make_zip(run_members(files)), tmp_path, "its metadata.json is 100,011 bytes")


def test_a_failed_move_leaves_nothing_under_the_final_name(run_files, tmp_path, monkeypatch):
    import shutil

    from cfcore.runs import zip as runzip

    def disk_full(source, target):
        Path(target).mkdir()
        (Path(target) / "model.keras").write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "move", disk_full)
    with pytest.raises(RunZipError, match="could not keep the run .No space left on device.*disk may be full"):
        runzip.load_run_from_zip(make_zip(run_members(run_files)), tmp_path / "runs" / "r1")
    assert listing(tmp_path / "runs") == []


def test_a_crafted_zip_of_an_older_version_is_refused_by_the_library(tiny_run_dir, tmp_path, secret_file):
    data = crafted_run_zip(tiny_run_dir, crafted_model(tiny_run_dir, secret_file), with_embeddings=False)
    with pytest.raises(RunZipError, match="older version.*upgrade-run") as info:
        load_run_from_zip(data, tmp_path / "kept")
    assert "SECRET" not in str(info.value) and not (tmp_path / "kept").exists()


def test_a_crafted_model_beside_real_arrays_is_never_opened(tiny_run_dir, tmp_path, secret_file):
    """The server reads embeddings.npz; the model file is only a download, its weights never opened."""
    data = crafted_run_zip(tiny_run_dir, crafted_model(tiny_run_dir, secret_file), with_embeddings=True)
    run = load_run_from_zip(data, tmp_path / "kept")
    original = load_run(tiny_run_dir)
    np.testing.assert_array_equal(run.embeddings.movie, original.embeddings.movie)
    assert SECRET[:16] not in run.embeddings.movie.tobytes()
    from cfcore.analysis.export import write_projector_files

    for path in write_projector_files(run, tmp_path / "export"):
        assert b"SECRET" not in Path(path).read_bytes()
    with pytest.raises(UnsafeWeightsError):
        load_model(tmp_path / "kept" / "model.keras")
