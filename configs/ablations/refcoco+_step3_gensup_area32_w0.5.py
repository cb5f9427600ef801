# Table 7, RefCOCO+ step 3: pseudo weight 0.5 (area >= 32^2 as the main step 3).
# Evaluate (Fig. 5: mean mIoU of the three splits): python tools/test.py \
#     configs/ablations/refcoco+_step3_gensup_area32_w0.5.py CKPT --splits val testA testB
_base_ = '../mutual/refcoco+_step3_gensup.py'
generation_supervision = dict(_base_.generation_supervision,  # the paper's values
                              instance_filter='area', min_area=32 * 32, weight=0.5)
custom_hooks = [
    dict(type='MutualSupervisionHook', generation_supervision=generation_supervision)
]
