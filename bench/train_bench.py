"""Full-size training runs for the quality table: train, report validation figures, and (with --test) the test
split, the robustness sweep and the other shared set; the detector is saved to --out.

    FACEFAKE_DATA=../shared/datasets TORCH_HOME=../shared/torch \
      .venv/bin/python bench/train_bench.py --dataset faces140k-sample --out runs/f140-256 --size 256 --epochs 8 [--test]

Choices (size, epochs, augmentation) are made on the validation figures; --test is for the run that was chosen.
--probe fits the linear probe of nbs/api/14_probe.ipynb (logistic regression on frozen MobileNetV2 features, C chosen on
the valid split) instead of fine-tuning, with --degraded N degraded copies of each training image and the body
--probe-arch (taps summarised on an 8 x 8 grid, or mobilenet_v2_taps: 4 x 4); --epochs, --lr, --crop, --mixup,
--forensic do not apply to it:

    .venv/bin/python bench/train_bench.py --dataset faces140k-sample --out runs/f140-probe --probe --size 384 --test

--valid-robustness adds the robustness sweep on the validation split, so that a choice (say --degraded 0 or 2) can
weigh robustness without looking at the test split.

A run saved without --test gets its test figures later, without retraining:

    .venv/bin/python bench/train_bench.py --dataset rff-part --load runs/rff-600 --test --json-out runs/rff-600-test.json
"""
import argparse, json, time, warnings
from pathlib import Path
warnings.filterwarnings('ignore')
from facefake.splits import load_dataset
from facefake.detector import save_detector, load_detector
from facefake.train import train_detector
from facefake.probe import fit_probe
from facefake.metrics import split_metrics
from facefake.evaluate import evaluate, robustness, cross_dataset

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dataset', default='faces140k-sample')
    ap.add_argument('--out', help='folder for the trained detector, replaced if it exists (required unless --load)')
    ap.add_argument('--load', help='a saved detector to evaluate instead of training one (nothing is written to it)')
    ap.add_argument('--json-out', help='also write the figures here (a new file)')
    ap.add_argument('--arch', default='mobilenet_v2')
    ap.add_argument('--size', type=int, default=128)
    ap.add_argument('--crop', type=int, default=None)
    ap.add_argument('--epochs', type=int, default=3)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--bs', type=int, default=32)
    ap.add_argument('--forensic', action='store_true')
    ap.add_argument('--mixup', action='store_true')
    ap.add_argument('--probe', action='store_true', help='fit the linear probe on frozen features instead of fine-tuning')
    ap.add_argument('--probe-arch', default='mobilenet_v2_taps8', help='probe only: the body, mobilenet_v2_taps8 (8 x 8 grid, as fit_probe) or mobilenet_v2_taps (4 x 4)')
    ap.add_argument('--degraded', type=int, default=2, help='probe only: degraded copies of every training image (JPEG, blur, down-up); 2 as in fit_probe')
    ap.add_argument('--reencode', type=str, default=None, help='train/evaluate on this re-encoded copy of the dataset instead')
    ap.add_argument('--valid-robustness', action='store_true', help='also the robustness sweep on the validation split (for choices)')
    ap.add_argument('--test', action='store_true', help='also report the test split, robustness and cross-dataset')
    a = ap.parse_args()
    if not (a.out or a.load): ap.error('give --out (train) or --load (evaluate a saved detector)')
    if a.json_out and Path(a.json_out).exists(): ap.error(f'{a.json_out} exists; give a new file')
    df = load_dataset(a.reencode or a.dataset)
    t = time.time()
    if a.load: det = load_detector(a.load)
    elif a.probe:
        det, table = fit_probe(df, arch=a.probe_arch, size=a.size, forensic=a.degraded, name=Path(a.out).name)
        print(table.round(4).to_string(), flush=True)
    else:
        det, learn = train_detector(df, arch=a.arch, size=a.size, crop=a.crop, epochs=a.epochs, lr=a.lr, bs=a.bs,
                                    forensic=a.forensic, mixup=a.mixup, name=Path(a.out).name)
    secs = time.time() - t
    vm = split_metrics(det, df, 'valid')
    res = dict(args=vars(a), train_seconds=None if a.load else round(secs), valid={k: v for k, v in vm.items() if k != 'confusion'},
               epochs_run=det.card['training'].get('epochs_run'), best_epoch=det.card['training'].get('best_epoch'))
    print('valid:', {k: round(v, 4) if isinstance(v, float) else v for k, v in res['valid'].items()},
          f"({'loaded ' + a.load if a.load else f'{secs:.0f} s'})", flush=True)
    if a.valid_robustness:
        vrob = robustness(det, df, split='valid')
        res['valid_robustness'] = vrob.round(4).to_dict(orient='index')
        print('validation split:\n' + vrob.round(3).to_string(), flush=True)
    if a.test:
        ev = evaluate(det, df)
        res['test'] = {k: v for k, v in ev.metrics.items() if k != 'confusion'}
        print('test:', ev, flush=True)
        rob = robustness(det, df)
        res['robustness'] = rob.round(4).to_dict(orient='index')
        print(rob.round(3).to_string(), flush=True)
        other = {'faces140k-sample': 'rff-part', 'rff-part': 'faces140k-sample'}.get(a.dataset)
        if other:
            res['cross_dataset_auc'] = cross_dataset({det.name: det}, {other: load_dataset(other)}, metric='roc_auc').iloc[0].to_dict()
            print('cross-dataset AUC:', res['cross_dataset_auc'], flush=True)
        det.card['metrics'] = res['test']
    if a.json_out: Path(a.json_out).write_text(json.dumps(res, indent=2, default=str))
    if a.load: return
    save_detector(det, a.out, overwrite=True)
    Path(a.out, 'bench.json').write_text(json.dumps(res, indent=2, default=str))

if __name__ == '__main__': main()
