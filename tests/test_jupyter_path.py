"""The learner's path, end to end: JupyterLab (as `make lab` starts it) serves the book's folder,
runs chapter 1's first code cells in the course kernel "Python 3 (Noisy Descent)" and draws its
first figure. Everything happens on 127.0.0.1 with a token, through the server's REST and
websocket API (the same calls the JupyterLab page makes)."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

websocket = pytest.importorskip("websocket")

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHAPTER = "01_stochastic_gradient.ipynb"
TOKEN = uuid.uuid4().hex


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url, method="GET", body=None):
    req = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        data = r.read()
        return r.status, (json.loads(data) if data[:1] in (b"{", b"[") else data.decode())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not (BIN / "jupyter-lab").exists():
        pytest.fail("JupyterLab is not installed in the environment (requirements.txt pins it)")
    port = _free_port()
    runtime = tmp_path_factory.mktemp("jupyter-runtime")
    env = {**os.environ, "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter"),
           "JUPYTER_RUNTIME_DIR": str(runtime), "OMP_NUM_THREADS": "1", "SGDNOISE_SIZE": "small"}
    proc = subprocess.Popen([str(BIN / "jupyter-lab"), "--no-browser", "--ServerApp.ip=127.0.0.1",
                             f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
                             f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={ROOT / 'book'}",
                             "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
                            + (["--allow-root"] if os.geteuid() == 0 else []),
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            _get(f"{base}/api/status")
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("jupyter lab exited: " + proc.stdout.read()[-3000:])
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("jupyter lab did not answer within 60 s")
    yield base, port
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _execute(ws, code, session, timeout=300):
    """Run one cell; return (status, outputs) from the kernel's replies to this request."""
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "username": "test", "session": session, "msg_type": "execute_request",
                   "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True}}))
    outputs, status, deadline = [], None, time.time() + timeout
    while time.time() < deadline and (status is None or not any(o.get("_idle") for o in outputs)):
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = msg["header"]["msg_type"]
        if kind == "execute_reply":
            status = msg["content"]["status"]
            if status != "ok":
                return status, msg["content"]
        elif kind in ("stream", "display_data", "execute_result", "error"):
            outputs.append({"type": kind, **msg["content"]})
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            outputs.append({"_idle": True})
    return status, [o for o in outputs if not o.get("_idle")]


def test_jupyterlab_runs_chapter_one_in_the_course_kernel(server):
    base, port = server
    status, page = _get(f"{base}/lab")
    assert status == 200 and "JupyterLab" in page
    _, specs = _get(f"{base}/api/kernelspecs")
    python3 = specs["kernelspecs"]["python3"]["spec"]
    assert python3["display_name"] == "Python 3 (Noisy Descent)", "the course kernel is not the notebooks' kernel"
    _, nb = _get(f"{base}/api/contents/{CHAPTER}")
    assert nb["content"]["metadata"]["kernelspec"]["name"] == "python3"
    _, sess = _get(f"{base}/api/sessions", "POST",
                   {"path": CHAPTER, "type": "notebook", "name": CHAPTER, "kernel": {"name": "python3"}})
    kernel = sess["kernel"]["id"]
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/api/kernels/{kernel}/channels?token={TOKEN}",
                                     timeout=300)
    try:
        session = uuid.uuid4().hex
        code = [c for c in nb["content"]["cells"] if c["cell_type"] == "code"]
        # The chapter's code cells up to its first figure, as a learner runs them (Shift-Enter).
        first_figure = next(i for i, c in enumerate(code) if "plt.show()" in c["source"])
        outputs = []
        for cell in code[: first_figure + 1]:
            status, out = _execute(ws, cell["source"], session)
            assert status == "ok", out
            outputs += out
        status, out = _execute(ws, "import sgdnoise, sys; print(sgdnoise.__file__, sys.prefix)", session)
        assert status == "ok"
        printed = "".join(o.get("text", "") for o in out if o["type"] == "stream")
        assert str(ROOT / "lib" / "sgdnoise") in printed, printed          # the editable library
        assert str(Path(sys.prefix)) in printed                             # in the course's environment
        assert any("image/png" in o.get("data", {}) for o in outputs if o["type"] == "display_data"), \
            "the first figure was not drawn"
    finally:
        ws.close()
        _get(f"{base}/api/sessions/{sess['id']}", "DELETE")
