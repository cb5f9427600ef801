# Fig. 5 and Table 7 (pseudo weight 1.0), RefCOCO+ step 3: instances of area >= 32^2 (358k
# pseudo refs in the paper), without reweighting. With weight 0.1 this is the main step 3,
# configs/mutual/refcoco+_step3_gensup.py.
# Evaluate (Fig. 5: mean mIoU of the three splits): python tools/test.py \
#     configs/ablations/refcoco+_step3_gensup_area32_w1.0.py CKPT --splits val testA testB
_base_ = '../mutual/refcoco+_step3_gensup.py'
generation_supervision = dict(_base_.generation_supervision,  # the paper's values
                              instance_filter='area', min_area=32 * 32, weight=1.0)
custom_hooks = [
    dict(type='MutualSupervisionHook', generation_supervision=generation_supervision)
]
