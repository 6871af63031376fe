"""What the commands and ``save`` / ``export`` write (issue 35, items 2-6): CSV headers
that no spreadsheet reads as formulas, outputs that never replace what is not a
regular file, never destroy the previous output on a failed write, fit any legal
file name, and never overlap training."""

import csv
import os
import stat
import subprocess
import sys
import threading

import numpy as np
import pytest

from skacai import ACAITransformer
from skacai._cli import load_data, main

PARAMS = {"n_components": 2, "hidden_layer_sizes": (8,), "max_iter": 1, "random_state": 0}


def cli(capsys, *argv):
    """``main(argv)``: (exit code, stdout, stderr)."""
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).normal(size=(30, 6))


# Line breaks and other control characters inside a name: a bare "\r" ended the
# header's record for spreadsheets and Python's csv reader, which then read a row
# that starts with a formula.
CONTROL_NAMES = ["x\r=cmd|' /C calc'!A0", "y\r\n@SUM(1)", "esc\x1b[2J", "vt\x0bz", "nul\x00",
                 "ls\u2028+1", "", "plain"]  # fmt: skip


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_a_control_character_in_a_name_cannot_start_a_csv_row(X, tmp_path, capsys):
    model = ACAITransformer(**PARAMS).fit(np.random.default_rng(1).normal(size=(30, 8)))
    model.feature_names_in_ = np.asarray(CONTROL_NAMES, dtype=object)
    model.save(tmp_path / "model.st")
    codes = model.transform(np.random.default_rng(2).normal(size=(4, 8)))
    np.save(tmp_path / "codes.npy", codes)
    out = tmp_path / "decoded.csv"
    code, _, err = cli(capsys, "transform", tmp_path / "model.st", tmp_path / "codes.npy",
                       "-o", out, "--inverse")  # fmt: skip
    assert code == 0, err
    with out.open(newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    assert rows[0] == CONTROL_NAMES  # one header record, every name whole
    assert len(rows) == 1 + len(codes)
    for record in rows[1:]:  # numbers only: no formula
        assert [float(field) for field in record]
    data = load_data(out)  # skacai reads its own output back
    np.testing.assert_allclose(data.X, model.inverse_transform(codes))
    assert data.source.endswith("(header row skipped)")


# ------------------------------------------------------------- what an output replaces


@pytest.fixture(scope="module")
def fitted(X, tmp_path_factory):
    """A fitted model, its file and a data file."""
    folder = tmp_path_factory.mktemp("fitted")
    model = ACAITransformer(**PARAMS).fit(X)
    model.save(folder / "model.st")
    np.save(folder / "X.npy", X)
    return model, folder


def special_files(tmp_path, suffix):
    """A FIFO (a reader kept open, so that a writer never blocks) and, where this
    process may create one, a character device like /dev/null, named ``*suffix``."""
    fifo = tmp_path / f"fifo{suffix}"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    nodes = [fifo]
    try:
        os.mknod(tmp_path / f"null{suffix}", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        nodes.append(tmp_path / f"null{suffix}")
    except OSError:  # not allowed to create devices here
        pass
    return nodes, reader


WRITERS = {  # name: (suffix, function of (model, folder, out) or skacai's argv)
    "save": (".st", lambda model, folder, out: model.save(out)),
    "export": (".pt", lambda model, folder, out: model.export(out)),
    "skacai fit": (".st", lambda model, folder, out: [
        "fit", folder / "X.npy", "-o", out, "--max-iter", "1"]),
    "skacai transform": (".npy", lambda model, folder, out: [
        "transform", folder / "model.st", folder / "X.npy", "-o", out]),
    "skacai export": (".pt", lambda model, folder, out: [
        "export", folder / "model.st", "-o", out]),
}  # fmt: skip
COMMANDS = [name for name in WRITERS if name.startswith("skacai")]


def written(writer, model, folder, out, capsys, force=True):
    """Run ``writer`` on ``out`` (commands with ``--force``): the message of the error
    it raised or printed, or None."""
    _, write = WRITERS[writer]
    try:
        result = write(model, folder, out)
    except OSError as error:
        return str(error)
    if writer in COMMANDS:
        code, _, err = cli(capsys, *result, *(["--force"] if force else []))
        if code == 0:
            return None
        assert code == 1 and err.count("\n") == 1 and "Traceback" not in err, err
        return err
    return None


@pytest.mark.parametrize("writer", WRITERS)
def test_no_writer_replaces_what_is_not_a_regular_file(fitted, writer, tmp_path, capsys):
    model, folder = fitted
    nodes, reader = special_files(tmp_path, WRITERS[writer][0])
    try:
        for node in nodes:
            kind = stat.S_IFMT(os.stat(node).st_mode)
            message = written(writer, model, folder, node, capsys)
            assert message is not None and "not a regular file" in message, message
            assert stat.S_IFMT(os.stat(node).st_mode) == kind  # still what it was
            assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    finally:
        os.close(reader)


@pytest.mark.parametrize("writer", WRITERS)
def test_every_writer_follows_a_symlink_and_keeps_it(fitted, writer, tmp_path, capsys):
    """The policy: a symbolic link is followed; its target is replaced, the link stays."""
    model, folder = fitted
    suffix = WRITERS[writer][0]
    target, link = tmp_path / f"target{suffix}", tmp_path / f"link{suffix}"
    target.write_bytes(b"old")
    link.symlink_to(target)
    assert written(writer, model, folder, link, capsys) is None
    assert link.is_symlink() and link.resolve() == target
    assert target.is_file() and target.read_bytes() != b"old"


@pytest.mark.parametrize("writer", COMMANDS)
def test_a_dangling_symlink_is_an_existing_output(fitted, writer, tmp_path, capsys):
    """The command line creates a dangling link's target only with --force."""
    model, folder = fitted
    suffix = WRITERS[writer][0]
    target, link = tmp_path / f"missing{suffix}", tmp_path / f"link{suffix}"
    link.symlink_to(target)
    message = written(writer, model, folder, link, capsys, force=False)
    assert message is not None and "already exists" in message and "--force" in message
    assert not target.exists() and link.is_symlink()
    assert written(writer, model, folder, link, capsys) is None
    assert target.is_file() and link.is_symlink() and link.resolve() == target


# ------------------------------------------------------------------- a failed write


def limited(tmp_path, script, limit):
    """Run ``script`` in a fresh Python whose files may grow to ``limit`` bytes at most,
    as on a disk that fills up (writes past it fail with EFBIG): its exit code and
    stderr."""
    preamble = (
        "import resource, signal\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
    )
    process = subprocess.run(
        [sys.executable, "-c", preamble + script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return process.returncode, process.stderr


def command(*argvs):
    """A script that runs ``skacai`` on each argv and exits with the last exit code."""
    argvs = [[str(arg) for arg in argv] for argv in argvs]
    return f"import sys; from skacai._cli import main; sys.exit([main(a) for a in {argvs!r}][-1])"


def test_a_failed_write_leaves_the_previous_output_whole(fitted, tmp_path, capsys):
    _, folder = fitted
    np.save(tmp_path / "big.npy", np.random.default_rng(0).normal(size=(20_000, 6)))
    outputs = [tmp_path / f"codes{suffix}" for suffix in (".csv", ".npy", ".npz")]
    argvs = [["transform", folder / "model.st", tmp_path / "big.npy", "-o", out, "--force"]
             for out in outputs]  # fmt: skip
    for argv in argvs:
        assert cli(capsys, *argv)[0] == 0
    before = [out.read_bytes() for out in outputs]
    assert min(map(len, before)) > 300_000
    code, err = limited(tmp_path, command(*argvs), 200_000)
    assert code == 1, err
    lines = err.splitlines()
    assert len(lines) == len(outputs) and "Traceback" not in err, err
    for line, out in zip(lines, outputs, strict=True):
        assert line.startswith(f"skacai transform: error: cannot write the output file '{out}'")
        assert "it is unchanged" in line
    assert [out.read_bytes() for out in outputs] == before
    assert sorted(os.listdir(tmp_path)) == sorted(["big.npy", *(out.name for out in outputs)])


def test_a_full_disk_during_save_is_one_clear_error(fitted, tmp_path):
    _, folder = fitted
    before = (folder / "model.st").read_bytes()
    (tmp_path / "model.st").write_bytes(before)
    argv = ["fit", folder / "X.npy", "-o", tmp_path / "model.st", "--force", "--max-iter", "1"]
    code, err = limited(tmp_path, command(argv), 2_000)
    assert code == 1, err
    errors = [line for line in err.splitlines() if not line.startswith("skacai fit: warning")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert "skacai fit: error: cannot write the model file" in err and "unchanged" in err
    assert (tmp_path / "model.st").read_bytes() == before
    script = (
        "from skacai import ACAITransformer\n"
        f"ACAITransformer.load({str(folder / 'model.st')!r}).save('model.st')\n"
    )
    code, err = limited(tmp_path, script, 2_000)  # Python's save: an OSError
    assert code == 1 and err.splitlines()[-1].startswith("OSError: cannot write"), err
    assert (tmp_path / "model.st").read_bytes() == before


# -------------------------------------------------------------------- long file names


def longest_name(tmp_path, suffix, char="a"):
    """The longest name (in bytes) that the folder's file system allows, ending in ``suffix``."""
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    stem = char * ((limit - len(suffix.encode())) // len(char.encode()))
    return tmp_path / (stem + "a" * (limit - len((stem + suffix).encode())) + suffix)


@pytest.mark.parametrize("char", ["a", "\N{LATIN SMALL LETTER E WITH ACUTE}"])
@pytest.mark.parametrize("writer", WRITERS)
def test_every_writer_takes_the_longest_legal_name(fitted, writer, char, tmp_path, capsys):
    model, folder = fitted
    out = longest_name(tmp_path, WRITERS[writer][0], char)
    assert len(os.fsencode(out.name)) == os.pathconf(tmp_path, "PC_NAME_MAX")
    assert written(writer, model, folder, out, capsys, force=False) is None
    assert os.listdir(tmp_path) == [out.name]


def test_the_command_line_checks_its_outputs_before_training(fitted, tmp_path, capsys,
                                                            monkeypatch):  # fmt: skip
    _, folder = fitted

    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking where the model goes")

    monkeypatch.setattr(ACAITransformer, "fit", no_training)
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    for out, message in [
        (
            tmp_path / ("a" * limit + ".st"),
            f"its name is {limit + 3} bytes long, more than the {limit} ",
        ),
        ("/proc/model.st", "cannot write the model file '/proc/model.st'"),
    ]:
        code, _, err = cli(capsys, "fit", folder / "X.npy", "-o", out)
        assert code == 1 and err.count("\n") == 1, err
        assert message in err, err


# ------------------------------------------------------ outputs that overlap training


class Paused:
    """Holds training (``_fit_loop.run_epochs``) at its start until released."""

    def __init__(self, monkeypatch):
        from skacai import _fit_loop

        self.started, self.release = threading.Event(), threading.Event()
        run_epochs = _fit_loop.run_epochs

        def paused(*args, **kwargs):
            self.started.set()
            assert self.release.wait(60), "never released"
            return run_epochs(*args, **kwargs)

        monkeypatch.setattr(_fit_loop, "run_epochs", paused)


BUSY = r"cannot run while fit runs on this ACAITransformer in another thread"


def test_outputs_refuse_to_overlap_training_in_another_thread(X, tmp_path, monkeypatch):
    model = ACAITransformer(**PARAMS).fit(X)
    before = model.transform(X)
    pause = Paused(monkeypatch)
    errors = []
    thread = threading.Thread(target=lambda: errors.append(catch(model.fit, X)))
    thread.start()
    try:
        assert pause.started.wait(60)
        for name, call in [
            ("save", lambda: model.save(tmp_path / "model.st")),
            ("export", lambda: model.export(tmp_path / "encoder.pt")),
            ("transform", lambda: model.transform(X)),
            ("inverse_transform", lambda: model.inverse_transform(before)),
            ("interpolate", lambda: model.interpolate(X[:2], X[2:4])),
            ("score_samples", lambda: model.score_samples(X)),
            ("score", lambda: model.score(X)),
            ("fit", lambda: model.fit(X)),
            ("partial_fit", lambda: model.partial_fit(X)),
        ]:
            with pytest.raises(RuntimeError, match=f"^{name} {BUSY}"):
                call()
    finally:
        pause.release.set()
        thread.join(60)
    assert errors == [None]
    assert os.listdir(tmp_path) == []
    model.save(tmp_path / "model.st")  # once fit returned
    np.testing.assert_array_equal(
        ACAITransformer.load(tmp_path / "model.st").transform(X), model.transform(X)
    )


def test_training_refuses_to_start_while_a_save_runs(X, tmp_path, monkeypatch):
    from skacai import _model_file

    model = ACAITransformer(**PARAMS).fit(X)
    started, release = threading.Event(), threading.Event()
    real_write = _model_file.write_file

    def slow_write(*args):
        started.set()
        assert release.wait(60)
        real_write(*args)

    monkeypatch.setattr(_model_file, "write_file", slow_write)
    errors = []
    thread = threading.Thread(target=lambda: errors.append(catch(model.save, tmp_path / "m.st")))
    thread.start()
    try:
        assert started.wait(60)
        with pytest.raises(RuntimeError, match=r"^fit cannot run while save runs on this"):
            model.fit(X)
        model.transform(X)  # reading alongside a save is fine
    finally:
        release.set()
        thread.join(60)
    assert errors == [None]
    ACAITransformer.load(tmp_path / "m.st")


def catch(function, *args):
    """``function(*args)``'s exception, or None."""
    try:
        function(*args)
    except Exception as error:  # reported to the test's thread
        return error
    return None


# ------------------------------------------------- what the commands echo of files and names


def assert_printable(text):
    """Every line printable: no control character, escape sequence or lone surrogate."""
    for line in text.splitlines():
        assert line.isprintable(), repr(line)


def test_the_benchmarks_listing_escapes_what_it_echoes_and_never_fails(tmp_path, capsys):
    folder = tmp_path / "bench\x1b[2J"
    folder.mkdir()
    (folder / "plain.py").write_text('"""A plain script."""\n')
    (folder / "escape.py").write_text('"""Clears \x1b[2J the screen\x07."""\n')
    (folder / "name\x1b]0;pwned\x07.py").write_text('"""Its name sets a title."""\n')
    (folder / "nul.py").write_bytes(b'"""Nul."""\n\x00\n')
    (folder / "latin1.py").write_bytes(b'"""caf\xe9"""\n')
    (folder / "deep.py").write_text("x = 1" + "-1" * 200_000 + "\n")  # RecursionError
    os.mkfifo(folder / "fifo.py")
    (folder / "dangling.py").symlink_to(folder / "missing")
    try:
        os.close(os.open(os.fsencode(folder) + b"/bad\xff.py", os.O_CREAT | os.O_WRONLY))
    except OSError:  # a file system that takes only UTF-8 names
        pass
    code, out, err = cli(capsys, "benchmarks", "--dir", folder)
    assert code == 0, err
    assert_printable(out)
    assert "A plain script." in out and "Clears \\x1b[2J the screen\\x07." in out
    assert "name\\x1b]0;pwned\\x07  Its name sets a title." in out
    for name in ("nul", "latin1", "deep"):
        assert f"  {name} " in out
    assert "fifo" not in out and "dangling" not in out


def test_success_lines_escape_the_names_they_echo(fitted, tmp_path, capsys):
    _, folder = fitted
    out = tmp_path / "codes\x1b[2J.npy"
    code, stdout, err = cli(capsys, "transform", folder / "model.st", folder / "X.npy", "-o", out)
    assert code == 0, err
    assert_printable(stdout)
    assert "codes\\x1b[2J.npy" in stdout
    code, stdout, err = cli(capsys, "export", folder / "model.st", "-o", tmp_path / "e\x1b.pt")
    assert code == 0, err
    assert_printable(stdout)
