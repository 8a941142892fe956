"""Run notebooks and record which code produced their stored outputs; check that no stored output is stale.

    python tools/nbstate.py run nbs/course/01_intro.ipynb --full   # run it (FACEFAKE_FULL=1), save outputs, stamp it
    python tools/nbstate.py run nbs/api/00_core.ipynb              # the quick form (FACEFAKE_FULL=0)
    python tools/nbstate.py check                                  # exit 1 if any notebook's outputs are stale

A notebook's *sources* are its own code cells plus every `facefake` module it uses, followed through the modules'
imports of each other (a chapter that imports `facefake.probe` also depends on `detector`, `core`, ...). Shell lines
that call a `facefake-*` command count as using `facefake.cli`. `run` executes the notebook with `nbdev-test --save`
and writes the SHA-256 of those sources, and which form ran, into the notebook's metadata (`facefake`; nbdev-clean
keeps it through `allowed_metadata_keys` in pyproject.toml). `check` recomputes the hash for every notebook under
nbs/ that holds outputs and fails when it differs or is missing: an edited module or code cell means the stored
outputs may no longer be what the code gives, so the notebook must be run again.

`check` also holds the course chapters (nbs/course/) to their shape: no `#| export` cells, a "what you will learn"
opening and exercises or a questionnaire at the end; and all of nbs/ to at most `MAX_MIB`.
"""
import ast, hashlib, json, os, re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG, NBS = ROOT/'facefake', ROOT/'nbs'
KEY = 'facefake'

def _code_cells(nb:dict) -> list: return [''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'code']

def _python(src:str) -> str:
    "A code cell with IPython magics and shell lines blanked, so that `ast` can read it."
    return '\n'.join('' if l.lstrip().startswith(('!', '%')) else l for l in src.splitlines())

def imported(tree:ast.AST, pkg:Path=PKG) -> set:
    "The facefake modules an AST imports (absolute or, inside the package, relative imports); `__init__` for the package itself."
    mods = {p.stem for p in pkg.glob('*.py') if not p.stem.startswith('_')} | {'__init__'}
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1: found |= {node.module.split('.')[0]} if node.module else {a.name for a in node.names}
            elif node.module and node.module.startswith('facefake.'): found.add(node.module.split('.')[1])
            elif node.module == 'facefake': found |= {a.name if a.name in mods else '__init__' for a in node.names}
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name == 'facefake': found.add('__init__')   # `import facefake` reads the package's own attributes
                elif a.name.startswith('facefake.'): found.add(a.name.split('.')[1])
    return found & mods

def notebook_modules(nb:dict, pkg:Path=PKG) -> set:
    "Every facefake module a notebook's outputs can depend on: what it imports or exports, and what those import."
    todo = set()
    for src in _code_cells(nb):
        m = re.search(r'^#\|\s*default_exp\s+(\S+)', src, re.M)
        if m: todo.add(m.group(1))
        try: todo |= imported(ast.parse(_python(src)), pkg)
        except SyntaxError: pass
        if re.search(r'^\s*!.*\bfacefake-\w', src, re.M): todo.add('cli')
    seen = set()
    while todo:
        m = todo.pop()
        if m in seen or not (pkg/f'{m}.py').exists(): continue
        seen.add(m)
        todo |= imported(ast.parse((pkg/f'{m}.py').read_text()), pkg) - seen
    return seen

def sources_hash(nb:dict, pkg:Path=PKG) -> str:
    "SHA-256 of a notebook's code cells and of the source of every facefake module it depends on."
    h = hashlib.sha256()
    for src in _code_cells(nb): h.update(src.encode() + b'\0')
    for m in sorted(notebook_modules(nb, pkg)): h.update(m.encode() + b'\0' + (pkg/f'{m}.py').read_bytes() + b'\0')
    return h.hexdigest()

def has_outputs(nb:dict) -> bool: return any(c.get('outputs') for c in nb['cells'] if c['cell_type'] == 'code')

def notebooks(root:Path=NBS) -> list: return sorted(p for p in root.rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts)

def stale(path:Path, pkg:Path=PKG) -> str:
    "Why a notebook's stored outputs cannot be trusted, or '' when they can."
    nb = json.loads(path.read_text())
    if not has_outputs(nb): return ''
    stamp = nb.get('metadata', {}).get(KEY, {})
    if not stamp.get('sources'): return 'holds outputs but no record of the code that produced them'
    if stamp['sources'] != sources_hash(nb, pkg):
        return f"outputs came from other code: {', '.join(sorted(notebook_modules(nb, pkg)))} or its own cells changed since"
    return ''

LEARN = re.compile(r'what you will learn|in this chapter you will', re.I)
EXERCISES = re.compile(r'^#+\s*(exercises|questionnaire)', re.I | re.M)

def chapter_problems(path:Path) -> list:
    "A course chapter teaches with the library: no exports, an opening that says what you will learn, exercises."
    nb = json.loads(path.read_text())
    cells = nb['cells']
    bad = [f"{path.name}: course chapters export nothing (cell {i} is `#| export`)" for i, c in enumerate(cells)
           if c['cell_type'] == 'code' and re.search(r'^#\|\s*(export|exporti|default_exp)\b', ''.join(c['source']), re.M)]
    md = [''.join(c['source']) for c in cells if c['cell_type'] == 'markdown']
    if not any(LEARN.search(s) for s in md[:3]): bad.append(f"{path.name}: no 'What you will learn' among its first cells")
    if not any(EXERCISES.search(s) for s in md): bad.append(f"{path.name}: no Exercises or Questionnaire section")
    return bad

MAX_MIB = 5.6   # everything under nbs/ together (outputs included): the docs stay light, `du -sh nbs` under 6 MB

def size_problems(nbs:Path) -> list:
    "nbs/ over `MAX_MIB`, with its largest notebooks."
    files = [p for p in nbs.rglob('*') if p.is_file() and '.ipynb_checkpoints' not in p.parts]
    total = sum(p.stat().st_size for p in files) / 2**20
    if total <= MAX_MIB: return []
    top = ', '.join(f"{p.relative_to(nbs)} ({p.stat().st_size // 1024} KB)" for p in sorted(files, key=lambda p: -p.stat().st_size)[:5])
    return [f"nbs/ holds {total:.2f} MiB, over {MAX_MIB} MiB: store smaller figures (photo_figures(dpi=...)); largest: {top}"]

def check(root:Path=ROOT) -> int:
    "Print every stale notebook and every course chapter out of shape under `root`, and nbs/ over its size; 1 if there is any, else 0."
    pkg, nbs = root/'facefake', root/'nbs'
    probs = [f"{p.relative_to(root)}: {why}" for p in notebooks(nbs) if (why := stale(p, pkg))]
    probs += [b for p in notebooks(nbs/'course') for b in chapter_problems(p)] + size_problems(nbs)
    for p in probs: print('FAILED:', p)
    if probs:
        print("run the stale notebooks again with: python tools/nbstate.py run NOTEBOOK [--full]")
        return 1
    print(f"== stored outputs: every notebook's outputs come from the current code ({len(notebooks(nbs))} notebooks)")
    return 0

def run(paths:list, full:bool=False) -> int:
    "Run each notebook (quick or full form), save its outputs, clean it and stamp the sources that produced them."
    bin_ = Path(sys.executable).parent
    for p in map(Path, paths):
        p = p.resolve()
        before = sources_hash(json.loads(p.read_text()))
        env = dict(os.environ, FACEFAKE_FULL='1' if full else '0')
        r = subprocess.run([str(bin_/'nbdev-test'), str(p), '--save', '--n-workers', '1', '--do-print'], cwd=ROOT, env=env)
        if r.returncode: print(f"FAILED: {p.name} did not run; nothing stamped"); return r.returncode
        subprocess.run([str(bin_/'nbdev-clean'), '--fname', str(p)], cwd=ROOT, check=True)
        nb = json.loads(p.read_text())
        if sources_hash(nb) != before: print(f"FAILED: {p.name} or a module changed during the run; run it again"); return 1
        nb.setdefault('metadata', {})[KEY] = dict(sources=before, form='full' if full else 'quick')
        p.write_text(json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + '\n')
        subprocess.run([str(bin_/'nbdev-clean'), '--fname', str(p)], cwd=ROOT, check=True)
        print(f"== {p.relative_to(ROOT)}: outputs saved ({'full' if full else 'quick'} form), sources {before[:12]}")
    return 0

if __name__ == '__main__':
    args = sys.argv[1:]
    if args[:1] == ['check']: sys.exit(check())
    if args[:1] == ['run'] and len(args) > 1: sys.exit(run([a for a in args[1:] if a != '--full'], full='--full' in args))
    print(__doc__); sys.exit(2)
