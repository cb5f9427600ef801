# Step 2 of the paper on refcoco: disambiguation supervision (RES -> REG, Sec. 3.3.1).
# From the step-1 model, only the indicated generation head learns, by policy gradient
# with r = 4 * softmax(S / 2.5)_k + CIDEr-D(Y, Y*) over 5 beam samples per object.
# 4 GPUs x 1 image: tools/dist_train.sh configs/mutual/refcoco_step2_rl.py 4
_base_ = [
    '../_base_/models/refmutual_r101.py', '../_base_/datasets/refcoco.py',
    '../_base_/schedules/step2_rl_20k.py', '../_base_/default_runtime.py'
]
load_from = 'work_dirs/refcoco_step1_joint/iter_90000.pth'
model = dict(
    generation_head=dict(vocab='data/refcoco/vocab.txt'),
    frozen_modules=['backbone', 'panoptic_head', 'text_encoder', 'selection_head'],
    disambiguation=dict(
        num_samples=5,
        baseline='mean',  # our choice: see IndicatedGenerationHead.loss_policy_gradient
        reward=dict(type='UnambiguityCiderReward', alpha=4.0, tau=2.5,
                    corpus_refs_file='data/refcoco/refs(unc).p', corpus_split='train')))
# every sentence of a ref is kept (no RandomSelectExpression): they are CIDEr's references
train_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline}}))
