"""Check what the docs site needs, without Quarto (which cannot be installed on the offline CI machine).

    python tools/check_docs.py

1. `nbdev-proc-nbs` processes every notebook in nbs/ into _proc/, the step of `nbdev-docs` before Quarto renders:
   it runs the export and import cells and every `show_doc`, so a `show_doc` whose target does not resolve fails here.
2. Every notebook in nbs/ came out in _proc/ (none skipped); _proc/ is removed first, so nothing stale counts.
3. nbs/sidebar.yml (the site's sidebar: the course, the API reference, the results page) lists every notebook and
   Markdown page under nbs/ exactly once, and no file that is not there.
4. Every name a module exports (`__all__`) that is a function or class has a docstring of its own, so the API
   reference has a sentence for it.
Exits 1 with the list of problems.
"""
import importlib, inspect, json, shutil, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

def pages(suffix:str='') -> list:
    "Notebooks (and Markdown pages) under nbs/, relative to it, checkpoints left out."
    return sorted(p.relative_to(ROOT/'nbs') for p in (ROOT/'nbs').rglob(f'*{suffix}') if p.suffix in ('.ipynb', '.md')
                  and '.ipynb_checkpoints' not in p.parts and (not suffix or p.suffix == suffix))

def processed() -> list:
    "Run nbdev-proc-nbs from scratch; problems if it fails or leaves a notebook out."
    shutil.rmtree(ROOT/'_proc', ignore_errors=True)   # a generated cache: start empty, so nothing stale counts as processed
    r = subprocess.run([str(BIN/'nbdev-proc-nbs')], cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0 or 'Traceback' in r.stderr:
        return [f"nbdev-proc-nbs failed (exit {r.returncode}):\n{r.stderr[-3000:]}"]
    missing = [str(nb) for nb in pages('.ipynb') if not (ROOT/'_proc'/nb).exists()]
    return [f"not processed into _proc/: {', '.join(missing)}"] if missing else []

def _sidebar_files(items) -> list:
    "Every file named in a Quarto sidebar `contents` list, sections included."
    out = []
    for it in items:
        if isinstance(it, str): out.append(it)
        elif isinstance(it, dict):
            if 'href' in it: out.append(it['href'])
            out += _sidebar_files(it.get('contents', []))
    return out

def sidebar() -> list:
    "Problems with nbs/sidebar.yml: notebooks missing from it, listed twice, or listed but absent."
    import yaml
    path = ROOT/'nbs'/'sidebar.yml'
    if not path.exists(): return ["nbs/sidebar.yml is missing"]
    listed = _sidebar_files(yaml.safe_load(path.read_text())['website']['sidebar']['contents'])
    nbs = sorted(map(str, pages()))
    probs = [f"nbs/sidebar.yml leaves out {', '.join(sorted(set(nbs) - set(listed)))}"] if set(nbs) - set(listed) else []
    if set(listed) - set(nbs): probs.append(f"nbs/sidebar.yml lists files not in nbs/: {', '.join(sorted(set(listed) - set(nbs)))}")
    twice = sorted({f for f in listed if listed.count(f) > 1})
    if twice: probs.append(f"nbs/sidebar.yml lists twice: {', '.join(twice)}")
    return probs

def undocumented() -> list:
    "Exported functions and classes without a docstring of their own."
    idx = json.loads(json.dumps(importlib.import_module('facefake._modidx').d))
    bad = []
    for mod in sorted(idx['syms']):
        m = importlib.import_module(mod)
        for name in getattr(m, '__all__', []):
            obj = getattr(m, name, None)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == mod and not obj.__doc__:
                bad.append(f"{mod}.{name}")
    return [f"exported without a docstring: {', '.join(bad)}"] if bad else []

if __name__ == '__main__':
    problems = processed() + sidebar() + undocumented()
    for p in problems: print('FAILED:', p)
    if problems: sys.exit(1)
    n = len(pages('.ipynb'))
    print(f"== docs: all {n} notebooks processed by nbdev-proc-nbs and in the sidebar, every show_doc resolved, every exported name documented")
