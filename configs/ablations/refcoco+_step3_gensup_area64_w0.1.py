# Fig. 5, RefCOCO+ step 3: instances of area >= 64^2 (208k pseudo refs in the paper), pseudo
# weight 0.1 (reweighting).
# Evaluate (Fig. 5: mean mIoU of the three splits): python tools/test.py \
#     configs/ablations/refcoco+_step3_gensup_area64_w0.1.py CKPT --splits val testA testB
_base_ = '../mutual/refcoco+_step3_gensup.py'
generation_supervision = dict(_base_.generation_supervision,  # the paper's values
                              instance_filter='area', min_area=64 * 64, weight=0.1)
custom_hooks = [
    dict(type='MutualSupervisionHook', generation_supervision=generation_supervision)
]
