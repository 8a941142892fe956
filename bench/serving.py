"""The real `facefake-serve` on a loopback port, for bench/serve_bench.py and tests/test_serve.py: start it, wait for
it, stop it, measure its process tree's memory, and the fault run (two servers, a reader, four clients posting
judgements) whose acknowledged and stored counts both the bench reports and the tests assert on."""
import os, signal, socket, sqlite3, subprocess, sys, threading, time
from collections import Counter
from pathlib import Path
import httpx

BIN = Path(sys.executable).parent
TOKEN = 'test-token-0123456789'

def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def launch(models, feedback, log:Path, token=TOKEN, extra=()) -> tuple:
    "Start facefake-serve on `feedback` in its own session; returns (process, base URL) at once."
    port = free_port()
    env = {**os.environ, 'FACEFAKE_API_TOKEN': token} if token else {k: v for k, v in os.environ.items() if k != 'FACEFAKE_API_TOKEN'}
    proc = subprocess.Popen([str(BIN/'facefake-serve'), str(models), '--port', str(port), '--feedback', str(feedback), *extra],
                            stdout=open(log, 'a'), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return proc, f'http://127.0.0.1:{port}'

def wait_ready(proc, url:str, log:Path, seconds:float=90):
    "Wait until /v1/health answers; RuntimeError with the log's end if the server exits or stays silent."
    end = time.time() + seconds
    while time.time() < end:
        if proc.poll() is not None: raise RuntimeError(f"facefake-serve exited with {proc.returncode}: {Path(log).read_text()[-2000:]}")
        try:
            if httpx.get(url + '/v1/health', timeout=2).status_code == 200: return
        except httpx.HTTPError: time.sleep(0.2)
    proc.kill(); raise RuntimeError(f'facefake-serve did not answer within {seconds:.0f} s')

def stop(proc):
    "SIGTERM, then SIGKILL after 20 s, to the server's whole process group (its workers too)."
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try: proc.wait(20)
        except subprocess.TimeoutExpired: os.killpg(proc.pid, signal.SIGKILL); proc.wait()

def tree_rss_mib(pid:int) -> float:
    "Resident memory of a process and its children in MiB."
    import psutil
    try:
        top = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [top] + top.children(recursive=True)) / 2**20
    except psutil.Error: return float('nan')

def predict(url:str, *paths, **params):
    return httpx.post(url + '/v1/predict', params=params, files=[('files', (Path(p).name, Path(p).read_bytes(), 'image/jpeg')) for p in paths], timeout=120)

def _judge(url:str, pid:str, until:float, acked:Counter, codes:list):
    "Post judgements of prediction `pid` until `until`; count the acknowledged ones in acked[pid]."
    with httpx.Client(timeout=60) as c:
        j = 0
        while time.time() < until:
            try: r = c.post(url + '/v1/feedback', json=dict(prediction_id=pid, label='fake' if j % 2 else 'real'), headers={'Authorization': f'Bearer {TOKEN}'})
            except httpx.HTTPError as e: codes.append(type(e).__name__); continue
            codes.append(r.status_code)
            if r.status_code == 200: acked[pid] += 1
            j += 1

def fault_run(models, folder:Path, faces:list, reader:list, seconds:float=30) -> dict:
    "Two servers on one feedback file in `folder`, 4 clients (2 per server) posting judgements for `seconds` while `reader` runs."
    feedback = folder/'feedback.sqlite'
    servers = [launch(models, feedback, folder/f'serve-{i}.log', extra=('--workers', '1', '--keep-uploads', str(folder/'uploads'))) for i in range(2)]
    try:
        for i, (p, u) in enumerate(servers): wait_ready(p, u, folder/f'serve-{i}.log')
        pids = [predict(servers[k % 2][1], faces[k]).json()['results'][0]['prediction_id'] for k in range(4)]
        acked, codes = Counter(), []
        rd = subprocess.Popen(reader, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        until = time.time() + seconds
        threads = [threading.Thread(target=_judge, args=(servers[k % 2][1], pids[k], until, acked, codes)) for k in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        reader_out, _ = rd.communicate(timeout=900)
    finally:
        for p, _ in servers: stop(p)
    with sqlite3.connect(feedback) as con:
        marks = ','.join('?' * len(pids))
        stored = dict(con.execute(f"SELECT prediction_id, COUNT(*) FROM feedback WHERE prediction_id IN ({marks}) GROUP BY prediction_id", pids).fetchall())
        integrity = con.execute('PRAGMA integrity_check').fetchone()[0]
        predictions = con.execute(f"SELECT COUNT(*) FROM predictions WHERE id IN ({marks})", pids).fetchone()[0]
    return dict(seconds=seconds, acknowledged=sum(acked.values()), stored=sum(stored.values()), per_prediction_match=stored == dict(acked),
                answers=dict(Counter(map(str, codes))), integrity=integrity, predictions_stored=predictions,
                reader_rc=rd.returncode, reader_out=reader_out[-3000:])

READER = """
import sqlite3, sys, time
from facefake.widget import Feedback
path, until, n = sys.argv[1], time.time() + float(sys.argv[2]), 0
ro = Feedback(path, readonly=True)
while time.time() < until:
    len(ro); ro.table(20)                             # through facefake, read-only
    con = sqlite3.connect(path); con.execute('SELECT COUNT(*) FROM feedback').fetchone(); con.close()   # a plain reader
    n += 1
print('reads', n)
"""

def reader_command(feedback:Path, seconds:float) -> list:
    "A read-only reader (facefake's and a plain sqlite3 one, in turn) of `feedback` for `seconds`."
    return [sys.executable, '-c', READER, str(feedback), str(seconds)]
