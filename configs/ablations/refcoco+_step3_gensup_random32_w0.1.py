# Fig. 5 "Random Filter", RefCOCO+ step 3: as many instances as the area >= 32^2 filter keeps
# (358k in the paper), drawn at random among all; pseudo weight 0.1.
# Evaluate (Fig. 5: mean mIoU of the three splits): python tools/test.py \
#     configs/ablations/refcoco+_step3_gensup_random32_w0.1.py CKPT --splits val testA testB
_base_ = '../mutual/refcoco+_step3_gensup.py'
generation_supervision = dict(_base_.generation_supervision,  # the paper's values
                              instance_filter='random', min_area=32 * 32, weight=0.1)
custom_hooks = [
    dict(type='MutualSupervisionHook', generation_supervision=generation_supervision)
]
