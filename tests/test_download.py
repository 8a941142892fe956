"""The real download code of `facefake.data` against a local HTTP server: resume, checksums, hostile archives,
the pinned-GitHub source, the thispersondoesnotexist downloader and the offline error. No internet needed."""
import hashlib, io, os, re, socket, stat, subprocess, sys, tarfile, threading, time, zipfile
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath

import numpy as np, pytest
from PIL import Image

import facefake.data as fd
from facefake.data import (DATASETS, ArchiveError, ChecksumError, Dataset, DatasetNotFoundError, DownloadError, FetchError,
                           GitHubSample, Kaggle, LocalFolder, ThisPersonDoesNotExist, UrlArchive, dataset_path, download_file,
                           download_tpdne, fetch, read_manifest, safe_extract, verify_manifest)


# ---------------------------------------------------------------- a local server

class Server:
    "Serve files under `root` with HTTP Range; can fail, cut or ignore Range on given paths; `/face` answers the next of `faces`."
    def __init__(self, root:Path):
        self.root, self.requests = root, []            # requests: (path, Range header, User-Agent, time)
        self.cut = {}                                  # path -> bytes to send before dropping the connection (once)
        self.statuses = {}                             # path -> list of HTTP error codes to answer first
        self.ignore_range = set()                      # paths served whole even when a Range is asked
        self.faces = []                                # bytes answered in turn by /face
        server = self
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args): pass
            def do_GET(self): server.answer(self)
        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.httpd.server_port}'
        threading.Thread(target=self.httpd.serve_forever, kwargs=dict(poll_interval=0.05), daemon=True).start()

    def paths(self): return [r[0] for r in self.requests]
    def ranges(self): return [r[1] for r in self.requests]

    def answer(self, h):
        path = h.path
        self.requests.append((path, h.headers.get('Range'), h.headers.get('User-Agent'), time.monotonic()))
        if self.statuses.get(path): return h.send_error(self.statuses[path].pop(0))
        if path == '/face': data = self.faces.pop(0) if self.faces else b''
        else:
            f = self.root/path.lstrip('/')
            if not f.is_file(): return h.send_error(404)
            data = f.read_bytes()
        start, m = 0, re.fullmatch(r'bytes=(\d+)-', h.headers.get('Range') or '')
        if m and path not in self.ignore_range:
            start = int(m[1])
            if start >= len(data): return h.send_error(416)
            h.send_response(206)
            h.send_header('Content-Range', f'bytes {start}-{len(data)-1}/{len(data)}')
        else: h.send_response(200)
        h.send_header('Content-Length', str(len(data) - start))
        h.end_headers()
        body = data[start:]
        if path in self.cut: body = body[:self.cut.pop(path)]   # then the connection closes early
        h.wfile.write(body)

    def close(self): self.httpd.shutdown(); self.httpd.server_close()


@pytest.fixture
def server(tmp_path):
    srv = Server(tmp_path/'www')
    (tmp_path/'www').mkdir()
    yield srv
    srv.close()


@pytest.fixture(autouse=True)
def offline_env(tmp_path, monkeypatch):
    "An empty data cache and no Kaggle credentials in every test."
    monkeypatch.setenv('FACEFAKE_DATA', str(tmp_path/'cache'))
    for k in ('KAGGLE_API_TOKEN', 'KAGGLE_USERNAME', 'KAGGLE_KEY', 'XDG_CONFIG_HOME'): monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv('HOME', str(tmp_path/'home'))
    monkeypatch.setenv('KAGGLE_CONFIG_DIR', str(tmp_path/'home'/'.kaggle'))


def sha(b:bytes) -> str: return hashlib.sha256(b).hexdigest()

def put(srv, rel, data:bytes) -> str:
    "Serve `data` at `rel`; return its URL."
    f = srv.root/rel
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(data)
    return f'{srv.url}/{rel}'

def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return f'http://127.0.0.1:{s.getsockname()[1]}'

def jpeg(seed:int, size:int=24) -> bytes:
    img = Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8))
    buf = io.BytesIO(); img.save(buf, 'JPEG', quality=80)
    return buf.getvalue()

BLOB = os.urandom(300_000)


# ---------------------------------------------------------------- 1-3: download_file

def test_download_checks_sha(server, tmp_path):
    url = put(server, 'data/blob.bin', BLOB)
    dest = download_file(url, tmp_path/'out'/'blob.bin', sha256=sha(BLOB), progress=False)
    assert dest.read_bytes() == BLOB and not (tmp_path/'out'/'blob.bin.part').exists()
    assert server.ranges() == [None] and server.requests[0][2].startswith('facefake/')


def test_resume_after_cut_connection(server, tmp_path):
    url = put(server, 'blob.bin', BLOB)
    server.cut['/blob.bin'] = 100_000
    dest = download_file(url, tmp_path/'blob.bin', sha256=sha(BLOB), backoff=0, progress=False)
    assert server.ranges() == [None, 'bytes=100000-']
    assert dest.read_bytes() == BLOB


def test_resume_in_a_later_run(server, tmp_path):
    "A run that gives up keeps `.part` (never the final name); the next run asks only for the rest."
    url, dest = put(server, 'blob.bin', BLOB), tmp_path/'blob.bin'
    server.cut['/blob.bin'] = 123_456
    with pytest.raises(DownloadError, match='run again to resume'): download_file(url, dest, sha(BLOB), retries=0, progress=False)
    assert not dest.exists() and (tmp_path/'blob.bin.part').stat().st_size == 123_456
    download_file(url, dest, sha(BLOB), progress=False)
    assert server.ranges() == [None, 'bytes=123456-'] and dest.read_bytes() == BLOB


def test_server_ignoring_range_restarts(server, tmp_path):
    url, dest = put(server, 'blob.bin', BLOB), tmp_path/'blob.bin'
    (tmp_path/'blob.bin.part').write_bytes(b'stale bytes that must not stay at the front')
    server.ignore_range.add('/blob.bin')
    download_file(url, dest, sha(BLOB), progress=False)
    assert len(server.requests) == 1 and dest.read_bytes() == BLOB


def test_stale_part_is_downloaded_again(server, tmp_path):
    "A `.part` from another version of the file fails the checksum once, then is fetched from scratch."
    url, dest = put(server, 'blob.bin', BLOB), tmp_path/'blob.bin'
    (tmp_path/'blob.bin.part').write_bytes(os.urandom(1000))
    download_file(url, dest, sha(BLOB), progress=False)
    assert server.ranges() == ['bytes=1000-', None] and dest.read_bytes() == BLOB


def test_transient_errors_are_retried_permanent_ones_not(server, tmp_path):
    url = put(server, 'blob.bin', BLOB)
    server.statuses['/blob.bin'] = [503, 429]
    download_file(url, tmp_path/'a.bin', sha(BLOB), backoff=0, progress=False)
    assert len(server.requests) == 3
    with pytest.raises(DownloadError, match='HTTP 404'): download_file(f'{server.url}/nope.bin', tmp_path/'b.bin', progress=False)
    assert len(server.requests) == 4 and not (tmp_path/'b.bin').exists() and not (tmp_path/'b.bin.part').exists()


def test_checksum_mismatch(server, tmp_path):
    url, dest = put(server, 'blob.bin', BLOB), tmp_path/'blob.bin'
    with pytest.raises(ChecksumError) as e: download_file(url, dest, sha256='ab' * 32, progress=False)
    assert 'expected ' + 'ab' * 32 in str(e.value) and sha(BLOB) in str(e.value)
    assert not dest.exists() and not (tmp_path/'blob.bin.part').exists()


def test_existing_files(server, tmp_path):
    url, dest = put(server, 'blob.bin', BLOB), tmp_path/'blob.bin'
    dest.write_bytes(BLOB)
    assert download_file(url, dest, sha(BLOB)) == dest and server.requests == []
    mine = tmp_path/'mine.bin'
    mine.write_bytes(b'my own file')
    with pytest.raises(FileExistsError, match='left untouched'): download_file(url, mine, sha(BLOB))
    assert mine.read_bytes() == b'my own file' and server.requests == []


def test_unreachable_host_fails_fast(tmp_path):
    t = time.monotonic()
    with pytest.raises(DownloadError, match='cannot reach'): download_file(closed_port_url() + '/x', tmp_path/'x', retries=3)
    assert time.monotonic() - t < 2 and not list(tmp_path.iterdir())


# ---------------------------------------------------------------- 4: archives

def make_zip(path, entries):
    "entries: (name, data) or ZipInfo with data."
    with zipfile.ZipFile(path, 'w') as zf:
        for name, data in entries: zf.writestr(name, data)
    return path

def make_tar(path, members, mode='w:gz'):
    "members: (TarInfo, data or None)."
    with tarfile.open(path, mode) as tf:
        for info, data in members:
            if data is not None: info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path

def tar_info(name, type=tarfile.REGTYPE, linkname=''):
    info = tarfile.TarInfo(name); info.type, info.linkname = type, linkname
    return info

def assert_nothing_extracted(parent:Path, dest:Path):
    assert not dest.exists()
    assert not [p for p in parent.iterdir() if p.name.endswith('.extract')]


def test_good_archives(tmp_path):
    for mode, ext in [('w:gz', 'tar.gz'), ('w:bz2', 'tar.bz2'), ('w:xz', 'tar.xz'), ('w', 'tar')]:
        arc = make_tar(tmp_path/f'ok.{ext}', [(tar_info('./', tarfile.DIRTYPE), None), (tar_info('a/b.txt'), b'hello')], mode)
        out = safe_extract(arc, tmp_path/ext)
        assert (out/'a'/'b.txt').read_bytes() == b'hello'
    out = safe_extract(make_zip(tmp_path/'ok.zip', [('real/1.txt', b'1'), ('fake/2.txt', b'22')]), tmp_path/'zip')
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob('*.txt')) == ['fake/2.txt', 'real/1.txt']


@pytest.mark.parametrize('name', ['../evil.txt', 'ok/../../evil.txt', '/abs/evil.txt', '..\\evil.txt', 'C:/evil.txt'])
def test_zip_paths_escaping_are_refused(tmp_path, name):
    arc = make_zip(tmp_path/'evil.zip', [('fine.txt', b'fine'), (name, b'gotcha')])
    assert name in zipfile.ZipFile(arc).namelist()
    with pytest.raises(ArchiveError, match='nothing was extracted'): safe_extract(arc, tmp_path/'out')
    assert_nothing_extracted(tmp_path, tmp_path/'out')
    assert not (tmp_path/'evil.txt').exists()


def test_zip_symlink_is_refused(tmp_path):
    info = zipfile.ZipInfo('link'); info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(tmp_path/'link.zip', 'w') as zf: zf.writestr('fine.txt', 'fine'); zf.writestr(info, '/etc/passwd')
    with pytest.raises(ArchiveError, match='is a link'): safe_extract(tmp_path/'link.zip', tmp_path/'out')
    assert_nothing_extracted(tmp_path, tmp_path/'out')


@pytest.mark.parametrize('member,why', [
    (tar_info('a/passwd', tarfile.SYMTYPE, '/etc/passwd'), 'is a link'),
    (tar_info('a/hard', tarfile.LNKTYPE, 'fine.txt'), 'is a link'),
    (tar_info('a/tty', tarfile.CHRTYPE), 'device'),
    (tar_info('a/fifo', tarfile.FIFOTYPE), 'device'),
    (tar_info('/etc/cron.d/evil'), 'absolute path'),
    (tar_info('../evil'), 'outside the target')])
def test_tar_unsafe_entries_are_refused(tmp_path, member, why):
    arc = make_tar(tmp_path/'evil.tar.gz', [(tar_info('fine.txt'), b'fine'), (member, None)])
    with pytest.raises(ArchiveError, match=why): safe_extract(arc, tmp_path/'out')
    assert_nothing_extracted(tmp_path, tmp_path/'out')


def test_too_many_files_and_too_many_bytes(tmp_path):
    many = make_zip(tmp_path/'many.zip', [(f'{i}.txt', b'x') for i in range(50)])
    with pytest.raises(ArchiveError, match='more than 10 entries'): safe_extract(many, tmp_path/'out', max_files=10)
    big = make_tar(tmp_path/'big.tar.gz', [(tar_info('zeros.bin'), bytes(2_000_000))])   # compresses to ~2 KB
    assert big.stat().st_size < 20_000
    with pytest.raises(ArchiveError, match='more than 1,000,000 bytes'): safe_extract(big, tmp_path/'out', max_bytes=1_000_000)
    assert_nothing_extracted(tmp_path, tmp_path/'out')


def test_bytes_written_are_counted_too(tmp_path):
    "An entry that yields more bytes than it declared is stopped by the count of bytes actually written."
    liar = [(PurePosixPath('a.bin'), 'file', lambda: io.BytesIO(bytes(5000)))]   # as if it had declared 0 bytes
    with pytest.raises(ArchiveError, match='more than 1,000 bytes'): fd._write(liar, tmp_path, max_bytes=1000)


def test_not_an_archive_and_corrupt(tmp_path):
    (tmp_path/'notes.zip').write_text('hello')
    with pytest.raises(ArchiveError, match='not a zip or tar'): safe_extract(tmp_path/'notes.zip', tmp_path/'out')
    data = make_zip(tmp_path/'ok.zip', [('a.txt', os.urandom(5000))]).read_bytes()
    i = data.index(b'a.txt') + 5 + 100                      # flip bytes inside the first entry's data
    (tmp_path/'bad.zip').write_bytes(data[:i] + bytes(b ^ 0xFF for b in data[i:i+50]) + data[i+50:])
    with pytest.raises(ArchiveError, match='corrupt'): safe_extract(tmp_path/'bad.zip', tmp_path/'out')
    assert_nothing_extracted(tmp_path, tmp_path/'out')


def test_extract_never_overwrites(tmp_path):
    (tmp_path/'out').mkdir(); (tmp_path/'out'/'a.txt').write_text('mine')
    with pytest.raises(FileExistsError): safe_extract(make_zip(tmp_path/'a.zip', [('a.txt', b'theirs')]), tmp_path/'out')
    assert (tmp_path/'out'/'a.txt').read_text() == 'mine'


def test_url_archive_source(server, tmp_path):
    arc = make_zip(tmp_path/'set.zip', [('set/real/1.jpg', jpeg(1)), ('set/fake/2.jpg', jpeg(2))])
    url = put(server, 'set.zip', arc.read_bytes())
    out = UrlArchive(url, sha(arc.read_bytes())).get(tmp_path/'ds')
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob('*.jpg')) == ['set/fake/2.jpg', 'set/real/1.jpg']
    assert not (tmp_path/'ds.part').exists()
    evil = make_zip(tmp_path/'evil.zip', [('../x.jpg', b'x')])
    url = put(server, 'evil.zip', evil.read_bytes())
    with pytest.raises(ArchiveError): UrlArchive(url, sha(evil.read_bytes())).get(tmp_path/'evil')
    assert not (tmp_path/'evil').exists()


# ---------------------------------------------------------------- 5: the pinned GitHub sample

REPO, COMMIT = 'someone/faces', 'c0ffee' + '0' * 34

def github_tree(server, tmp_path, n=6):
    "Serve `n` small JPEGs at a pinned commit and write their manifest; return (manifest path, files)."
    files = {f'{"real" if i % 2 else "fake"}/{i:03d}.jpg': jpeg(i) for i in range(n)}
    lines = ['path\tsha256\tsource_path']
    for rel, data in files.items():
        src = f'images/{rel.replace("fake/", "ai/")}'
        put(server, f'{REPO}/{COMMIT}/{src}', data)
        lines.append(f'{rel}\t{sha(data)}\t{src}')
    (tmp_path/'sample.tsv').write_text('\n'.join(lines) + '\n')
    return tmp_path/'sample.tsv', files


def test_github_sample(server, tmp_path):
    manifest, files = github_tree(server, tmp_path)
    gh = GitHubSample(REPO, COMMIT, manifest, base_url=server.url, workers=3)
    out = gh.get(tmp_path/'cache'/'sample', progress=False)
    assert out == tmp_path/'cache'/'sample' and not (tmp_path/'cache'/'sample.part').exists()
    assert {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob('*.jpg')} == files
    assert verify_manifest(out, manifest)['ok'] and (out/'MANIFEST.tsv').read_text() == manifest.read_text()
    assert all(p.startswith(f'/{REPO}/{COMMIT}/images/') for p in server.paths())


def test_github_sample_corrupted_file(server, tmp_path):
    manifest, files = github_tree(server, tmp_path)
    good = (server.root/REPO/COMMIT/'images'/'ai'/'002.jpg').read_bytes()
    (server.root/REPO/COMMIT/'images'/'ai'/'002.jpg').write_bytes(jpeg(99))       # the server now has another file
    gh = GitHubSample(REPO, COMMIT, manifest, base_url=server.url, workers=2, backoff=0)
    with pytest.raises(ChecksumError, match='sha256 mismatch'): gh.get(tmp_path/'sample', progress=False)
    assert not (tmp_path/'sample').exists() and not (tmp_path/'sample.part'/'fake'/'002.jpg').exists()
    # put the right file back: the next run fetches what is missing and completes
    (server.root/REPO/COMMIT/'images'/'ai'/'002.jpg').write_bytes(good)
    n = len(server.requests)
    out = gh.get(tmp_path/'sample', progress=False)
    assert verify_manifest(out, manifest)['ok']
    assert '/' + '/'.join([REPO, COMMIT, 'images', 'ai', '002.jpg']) in server.paths()[n:]


def test_manifest_is_checked(tmp_path):
    (tmp_path/'m.tsv').write_text('path\tsha256\tsource_path\n../x.jpg\t' + '0' * 64 + '\tx.jpg\n')
    with pytest.raises(ValueError, match='outside'): read_manifest(tmp_path/'m.tsv')
    (tmp_path/'m.tsv').write_text('path\tsha\nx.jpg\t0\n')
    with pytest.raises(ValueError, match='no column'): read_manifest(tmp_path/'m.tsv')
    with pytest.raises(FetchError, match='ship with the facefake repository'):      # e.g. installed without data/
        GitHubSample(REPO, COMMIT, tmp_path/'missing.tsv', base_url=closed_port_url()).get(tmp_path/'x')


def test_shipped_manifests_cover_the_registry():
    for name in ('faces140k-sample', 'rff-part'):
        rows = read_manifest(fd.MANIFESTS/f'{name}.tsv')
        gh = next(s for s in DATASETS[name].sources if isinstance(s, GitHubSample))
        assert gh.manifest == fd.MANIFESTS/f'{name}.tsv' and len(rows) > 1000 and len(gh.commit) == 40


# ---------------------------------------------------------------- 6: thispersondoesnotexist

def test_tpdne_dedup_resume_and_rate_limit(server, tmp_path):
    faces = [jpeg(i, 32) for i in range(6)]
    server.faces = [faces[0], faces[1], faces[0], faces[2], faces[3], faces[1], faces[4]]
    dest = tmp_path/'tpdne'
    res = download_tpdne(dest, n=3, delay=0.05, base_url=server.url + '/face', progress=False)
    assert res == dict(added=3, duplicates=1, failed=0, total=3, stopped=None)
    assert sorted(p.name for p in dest.iterdir()) == sorted(f'{sha(f)[:16]}.jpg' for f in faces[:3])
    times = [r[3] for r in server.requests]
    assert len(times) == 4 and min(np.diff(times)) >= 0.04
    assert all(r[2].startswith('facefake/') for r in server.requests)
    # resume: counts the 3 already there and asks only for what is missing
    res = download_tpdne(dest, n=5, delay=0.01, base_url=server.url + '/face', progress=False)
    assert res == dict(added=2, duplicates=1, failed=0, total=5, stopped=None) and len(server.requests) == 7
    assert len(list(dest.glob('*.jpg'))) == 5 and not list(dest.glob('.*'))


def test_tpdne_stops_after_failures(server, tmp_path):
    server.statuses['/face'] = [500] * 3
    res = download_tpdne(tmp_path/'t', n=3, delay=0.01, max_failures=3, base_url=server.url + '/face', progress=False)
    assert (res['total'], res['failed'], len(server.requests)) == (0, 3, 3) and '3 answers in a row' in res['stopped']
    server.faces = [b'<html>not a face</html>'] * 3
    res = download_tpdne(tmp_path/'t', n=3, delay=0.01, max_failures=3, base_url=server.url + '/face', progress=False)
    assert res['failed'] == 3 and 'not a JPEG' in res['stopped'] and not list((tmp_path/'t').iterdir())
    src = ThisPersonDoesNotExist(server.url + '/face', delay=0.01, max_failures=2)
    with pytest.raises(DownloadError, match='no face could be fetched'): src.get(tmp_path/'src', n=2, progress=False)
    assert not (tmp_path/'src').exists()


def test_tpdne_interrupted_cleanly(server, tmp_path, monkeypatch):
    server.faces = [jpeg(i) for i in range(10)]
    calls, pause = [], fd._pause
    def pause_then_ctrl_c(last, delay):
        calls.append(1)
        if len(calls) == 3: raise KeyboardInterrupt
        return pause(last, delay)
    monkeypatch.setattr(fd, '_pause', pause_then_ctrl_c)
    res = download_tpdne(tmp_path/'t', n=10, delay=0.01, base_url=server.url + '/face', progress=False)
    assert (res['added'], res['stopped']) == (2, 'interrupted')
    assert len(list((tmp_path/'t').iterdir())) == 2      # two faces, no temporary file


def test_tpdne_is_polite_to_the_real_site(tmp_path):
    with pytest.raises(ValueError, match='please be polite'): download_tpdne(tmp_path/'t', n=1, delay=0.1)
    assert fd.MIN_DELAY >= 2 and ThisPersonDoesNotExist().delay >= 2


# ---------------------------------------------------------------- 7: fetch, offline

def unreachable(ds:Dataset, tmp_path) -> Dataset:
    "`ds` with its network sources sent to a closed port and its local folders to nowhere."
    closed = closed_port_url()
    def redirect(s):
        if isinstance(s, GitHubSample): return replace(s, base_url=closed)
        if isinstance(s, LocalFolder): return LocalFolder(str(tmp_path/'nowhere'/'*'))
        return s
    return replace(ds, sources=[redirect(s) for s in ds.sources])


def test_fetch_offline_gives_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(DATASETS, 'faces140k-sample', unreachable(DATASETS['faces140k-sample'], tmp_path))
    with pytest.raises(DatasetNotFoundError) as e: fetch('faces140k-sample', progress=False)
    msg = str(e.value)
    for part in ('FACEFAKE_DATA', str(tmp_path/'cache'), 'local folder', 'GitHub', 'cannot reach', 'Kaggle', 'kaggle.json'):
        assert part in msg, part
    assert not (tmp_path/'cache').exists() or not any((tmp_path/'cache').rglob('*.jpg'))
    with pytest.raises(DatasetNotFoundError, match='FACEFAKE_DATA'): dataset_path('faces140k-sample')
    with pytest.raises(DatasetNotFoundError, match='FACEFAKE_DATA'): dataset_path('rff-part', download=False)


def test_fetch_unknown_name(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'faces-140k'.*faces140k-sample"): fetch('faces-140k')
    with pytest.raises(ValueError, match='fixed size'): fetch('rff-part', n=5)


def test_kaggle_messages_without_network(tmp_path, monkeypatch):
    with pytest.raises(FetchError, match='KAGGLE_USERNAME and KAGGLE_KEY'): Kaggle('owner/set').get(tmp_path/'k')
    find_spec = fd.importlib.util.find_spec
    monkeypatch.setattr(fd.importlib.util, 'find_spec', lambda name, *a: None if name == 'kaggle' else find_spec(name, *a))
    with pytest.raises(FetchError, match=re.escape("pip install 'facefake[kaggle]'")): Kaggle('owner/set').get(tmp_path/'k')
    assert not (tmp_path/'k').exists() and not (tmp_path/'k.part').exists()


def test_present_dataset_is_used_as_is(tmp_path, monkeypatch):
    class Boom:
        def get(self, *a, **k): raise AssertionError('a source was called although the dataset is present')
    monkeypatch.setitem(DATASETS, 'rff-part', replace(DATASETS['rff-part'], sources=[Boom()]))
    (tmp_path/'cache'/'rff-part'/'real').mkdir(parents=True)
    (tmp_path/'cache'/'rff-part'/'real'/'1.jpg').write_bytes(jpeg(1))
    assert dataset_path('rff-part') == fetch('rff-part') == tmp_path/'cache'/'rff-part'


def test_fetch_falls_through_to_a_working_source(server, tmp_path):
    manifest, files = github_tree(server, tmp_path, n=4)
    ds = Dataset('mini', 'test set', 'test', [LocalFolder(str(tmp_path/'none')), GitHubSample(REPO, COMMIT, manifest, base_url=server.url)])
    out = fetch(ds, progress=False)
    assert out == tmp_path/'cache'/'mini' and len(list(out.rglob('*.jpg'))) == 4
    local = tmp_path/'mine'; (local/'real').mkdir(parents=True); (local/'real'/'x.jpg').write_bytes(jpeg(5))
    assert fetch(replace(ds, name='mini2'), local=local) == local


def test_cli(tmp_path):
    exe = Path(sys.executable).parent/'facefake-fetch'
    cmd = [str(exe)] if exe.exists() else [sys.executable, '-c', 'from facefake.cli import fetch_cli; fetch_cli()']
    env = {**os.environ, 'FACEFAKE_DATA': str(tmp_path/'cache')}
    out = subprocess.run(cmd + ['--list'], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0 and 'faces140k-sample' in out.stdout and 'tpdne' in out.stdout
    out = subprocess.run(cmd + ['faces-140k'], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 2 and 'unknown dataset' in out.stderr and 'Traceback' not in out.stderr
