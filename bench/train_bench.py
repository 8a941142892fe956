"""Full-size training runs for the quality table: train, report validation figures, and (with --test) the test
split, the robustness sweep and the other shared set; the detector is saved to --out.

    FACEFAKE_DATA=../shared/datasets TORCH_HOME=../shared/torch \
      .venv/bin/python bench/train_bench.py --dataset faces140k-sample --out runs/f140-256 --size 256 --epochs 8 [--test]

Choices (size, epochs, augmentation) are made on the validation figures; --test is for the run that was chosen.
"""
import argparse, json, time, warnings
from pathlib import Path
warnings.filterwarnings('ignore')
import pandas as pd
from facefake.splits import load_dataset
from facefake.train import train_detector, save_detector
from facefake.evaluate import binary_metrics, evaluate, robustness, cross_dataset

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dataset', default='faces140k-sample')
    ap.add_argument('--out', required=True)
    ap.add_argument('--arch', default='mobilenet_v2')
    ap.add_argument('--size', type=int, default=128)
    ap.add_argument('--crop', type=int, default=None)
    ap.add_argument('--epochs', type=int, default=3)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--bs', type=int, default=32)
    ap.add_argument('--forensic', action='store_true')
    ap.add_argument('--mixup', action='store_true')
    ap.add_argument('--reencode', type=str, default=None, help='train/evaluate on this re-encoded copy of the dataset instead')
    ap.add_argument('--test', action='store_true', help='also report the test split, robustness and cross-dataset')
    a = ap.parse_args()
    df = load_dataset(a.reencode or a.dataset)
    t = time.time()
    det, learn = train_detector(df, arch=a.arch, size=a.size, crop=a.crop, epochs=a.epochs, lr=a.lr, bs=a.bs,
                                forensic=a.forensic, mixup=a.mixup, name=Path(a.out).name)
    secs = time.time() - t
    valid = df[df.split == 'valid']
    vm = binary_metrics((valid.label == 'fake').to_numpy(), det.p_fake(list(valid.path)), det.threshold)
    res = dict(args=vars(a), train_seconds=round(secs), valid={k: v for k, v in vm.items() if k != 'confusion'},
               epochs_run=det.card['training']['epochs_run'], best_epoch=det.card['training']['best_epoch'])
    print('valid:', {k: round(v, 4) if isinstance(v, float) else v for k, v in res['valid'].items()}, f'({secs:.0f} s)', flush=True)
    if a.test:
        ev = evaluate(det, df)
        res['test'] = {k: v for k, v in ev.metrics.items() if k != 'confusion'}
        print('test:', ev._repr_markdown_().replace('**', ''), flush=True)
        rob = robustness(det, df)
        res['robustness'] = rob.round(4).to_dict(orient='index')
        print(rob.round(3).to_string(), flush=True)
        other = {'faces140k-sample': 'rff-part', 'rff-part': 'faces140k-sample'}.get(a.dataset)
        if other:
            res['cross_dataset_auc'] = cross_dataset({det.name: det}, {other: load_dataset(other)}).iloc[0].to_dict()
            print('cross-dataset AUC:', res['cross_dataset_auc'], flush=True)
        det.card['metrics'] = res['test']
    save_detector(det, a.out, overwrite=True)
    Path(a.out, 'bench.json').write_text(json.dumps(res, indent=2, default=str))

if __name__ == '__main__': main()
