"""Throughput of pseudo-ref generation (step 3): instances described per second.

    python tools/benchmark/pseudo_refs_speed.py [--config C] [--images 96] [--device cpu]

Generates a synthetic benchmark whose images carry no refs (all of them form the pool),
saves a randomly initialised model of CONFIG (default: the tiny step-3 config; speed does
not depend on the weights, except through the length of the generated expressions, which
is capped by max_len) and runs ``PseudoRefWriter.write`` on it: one Mask2Former
pass per batch of images, every instance of those images decoded together by beam search
(3 beams, the paper's g2 = 3). Prints the device, the CPU/GPU name and instances/s.
"""
import argparse
import os.path as osp
import platform
import sys
import tempfile
import time

import torch
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

from mmrefmutual_bench.synthetic.generator import generate_synthetic_refcoco  # noqa: E402
from mmrefmutual.engine.generation_supervision import (  # noqa: E402
    GenerationSettings, PseudoRefWriter)
from mmrefmutual.models.language.vocab import build_vocab  # noqa: E402
from mmrefmutual.registry import MODELS  # noqa: E402
from mmrefmutual.utils import register_all_modules, to_plain  # noqa: E402
from mmrefmutual.utils.tool_args import step3_hook_index  # noqa: E402


def device_name(device: str) -> str:
    if device.startswith('cuda'):
        return torch.cuda.get_device_name(torch.device(device))
    for line in open('/proc/cpuinfo') if osp.exists('/proc/cpuinfo') else []:
        if line.startswith('model name'):
            return line.split(':', 1)[1].strip()
    return platform.processor() or 'cpu'


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=osp.join(REPO, 'configs', 'mutual',
                                                     'synthetic_step3_gensup_tiny.py'))
    parser.add_argument('--images', type=int, default=96)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--text-encoder', default=None, help='override the config\'s')
    args = parser.parse_args()
    register_all_modules()
    root = tempfile.mkdtemp(prefix='pseudo_speed_')
    # a few ref images are needed for the files' splits; the rest is the pool
    generate_synthetic_refcoco(root, num_images=args.images + 8, ref_image_ratio=8 / (
        args.images + 8), seed=0)
    cfg = Config.fromfile(args.config)
    cfg.model.generation_head.vocab = build_vocab(['the red circle on the left'])
    if args.text_encoder:
        cfg.model.text_encoder.name_or_path = args.text_encoder
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    ckpt = osp.join(root, 'model.pth')
    torch.save(to_plain({'state_dict': model.state_dict()}), ckpt)
    gen = dict(cfg.custom_hooks[step3_hook_index(cfg)].generation_supervision)
    gen['unannotated'] = dict(gen['unannotated'], data_root=root + '/')
    gen.update(checkpoint=ckpt, protected_refs_files=[
        osp.join(root, 'refcoco', 'refs(unc).p'), osp.join(root, 'refcoco+', 'refs(unc).p')],
        batch_size=args.batch_size, instance_filter='none')
    writer = PseudoRefWriter(GenerationSettings(**gen))
    start = time.perf_counter()
    stats = writer.write(cfg.model, osp.join(root, 'pseudo.json'),
                         cfg.test_dataloader.dataset.pipeline, torch.device(args.device))
    seconds = time.perf_counter() - start
    print(f'device: {args.device} ({device_name(args.device)}), torch {torch.__version__}, '
          f'threads {torch.get_num_threads()}')
    print(f'{stats["instances"]} instances of {stats["images"]} images, '
          f'{stats["expressions"]} expressions in {seconds:.1f} s (model loading included): '
          f'{stats["instances"] / seconds:.1f} instances/s')


if __name__ == '__main__':
    main()
