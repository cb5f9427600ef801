# Step 2, disambiguation supervision (RES -> REG, Sec. 3.3.1 and appendix B): the proposal
# extractor, the text encoder and the selection head are frozen; the indicated generation
# head learns by policy gradient (Eq. 4) over eps_1 = 5 beam samples per object with the
# reward r = alpha * softmax(S / tau)_k + CIDEr(Y, Y*) (Eq. 6), alpha = 4, tau = 2.5;
# AdamW, lr 1e-6, weight decay 0.05, 20k iterations, 4 images per batch.
# A config of step 2 sets, besides its dataset and load_from (the step-1 checkpoint):
#   model = dict(generation_head=dict(vocab={{_base_.vocab_file}}),
#                frozen_modules={{_base_.frozen_modules}}, train_cfg={{_base_.ref_train_cfg}})
frozen_modules = ['backbone', 'panoptic_head', 'text_encoder', 'selection_head']
ref_train_cfg = dict(
    proposal_loss=False,
    # the frozen extractor maps an object to a proposal as at inference (class-agnostic)
    ref_assigner='matching',
    res_loss=False,
    reg_loss='policy_gradient',
    # baseline: the mean reward of an object's samples (self-critical; our choice, the
    # paper cites SCST without naming one); 'none' is Eq. (4) as written
    policy_gradient=dict(num_samples=5, baseline='mean'))
# The hook's settings, a variable so that the reward ablations (Table 5) are diffs:
#   disambiguation = dict(_base_.disambiguation, reward=dict(_base_.disambiguation.reward, ...))
#   custom_hooks = [dict(type='MutualSupervisionHook', disambiguation=disambiguation)]
disambiguation = dict(
    # CIDEr's document frequencies: the refs of the training dataset itself
    reward=dict(type='UnambiguityCiderReward', alpha=4.0, tau=2.5, cider_weight=1.0,
                unambiguity='softmax'))
custom_hooks = [dict(type='MutualSupervisionHook', disambiguation=disambiguation)]
max_iters = 20000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# the paper gives no lr schedule or gradient clipping for this step: constant lr, no
# clipping (our reading)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-6, weight_decay=0.05, eps=1e-8, betas=(0.9, 0.999)))
param_scheduler = None
# the paper's batch: 4 images (4 GPUs x 1)
auto_scale_lr = dict(enable=False, base_batch_size=4)
