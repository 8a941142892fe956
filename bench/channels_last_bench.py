"""Training and prediction speed of a detector in PyTorch's default (contiguous) and channels-last memory layouts.

`make_learner` trains in channels-last layout when it runs on the CPU, and `load_detector` loads a detector that way
on the CPU; this script measures why. It trains the real thing (`make_learner` on `face_dls` of faces140k-sample,
fastai's `fit`) for one epoch on --n faces per class, and times prediction on the validation batches, alternating the
two layouts --reps times; it prints the medians and their ratio.

    FACEFAKE_DATA=../shared/datasets TORCH_HOME=../shared/torch .venv/bin/python bench/channels_last_bench.py [--size 256]

Other work on the same cores slows every figure; the load average is printed with them.
"""
import argparse, json, os, platform, time, warnings
warnings.filterwarnings('ignore')
import numpy as np, torch
from facefake.core import data_root
from facefake.splits import load_dataset
from facefake.train import face_dls, make_learner

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--arch', default='mobilenet_v2')
    ap.add_argument('--size', type=int, default=256)
    ap.add_argument('--n', type=int, default=64, help='faces per class (about 70%% of them train)')
    ap.add_argument('--bs', type=int, default=32)
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--json-out')
    a = ap.parse_args()
    df = load_dataset(data_root()/'faces140k-sample', limit=a.n)
    times = {False: {'train': [], 'predict': []}, True: {'train': [], 'predict': []}}
    for rep in range(a.reps + 1):                       # rep 0 warms up both layouts and is not counted
        for cl in (False, True):
            learn = make_learner(face_dls(df, size=a.size, bs=a.bs), arch=a.arch, pretrained=False, channels_last=cl)
            with learn.no_logging(), learn.no_bar():
                t = time.perf_counter(); learn.fit(1, 1e-3); t_train = time.perf_counter() - t
            model = learn.model.eval()
            t = time.perf_counter()
            with torch.no_grad():
                for xb, _ in learn.dls.valid: model(xb)
            t_pred = time.perf_counter() - t
            if rep:
                times[cl]['train'].append(t_train); times[cl]['predict'].append(t_pred)
            print(f"rep {rep} {'channels-last' if cl else 'contiguous'}: train epoch {t_train:.1f} s, predict {t_pred:.1f} s",
                  flush=True)
    n_train, n_valid = (df.split == 'train').sum(), (df.split == 'valid').sum()
    res = dict(args=vars(a), cpu=platform.processor() or platform.machine(), threads=torch.get_num_threads(),
               load_average=os.getloadavg(), n_train=int(n_train), n_valid=int(n_valid))
    for cl in (False, True):
        k = 'channels_last' if cl else 'contiguous'
        res[k] = {w: float(np.median(v)) for w, v in times[cl].items()}
    res['speedup'] = {w: res['contiguous'][w] / res['channels_last'][w] for w in ('train', 'predict')}
    print(f"{a.arch} at {a.size} px, {n_train} training / {n_valid} validation images, {res['threads']} threads, "
          f"load {res['load_average'][0]:.2f}")
    for k in ('contiguous', 'channels_last'):
        print(f"  {k:14s} median train epoch {res[k]['train']:.1f} s, predict {res[k]['predict']:.1f} s")
    print(f"  speed-up of channels-last: training x{res['speedup']['train']:.2f}, prediction x{res['speedup']['predict']:.2f}")
    if a.json_out: open(a.json_out, 'x').write(json.dumps(res, indent=2))

if __name__ == '__main__': main()
