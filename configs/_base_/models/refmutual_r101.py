# The paper's model (Sec. 3.2, 4.1): Mask2Former R-101 with N=100 queries as proposal
# extractor, BERT-base, 4-layer selection and generation heads.
num_things_classes = 80
num_stuff_classes = 0
num_classes = num_things_classes + num_stuff_classes
data_preprocessor = dict(
    type='DetDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_size_divisor=32,
    pad_mask=True,
    mask_pad_value=0,
    pad_seg=False)
model = dict(
    type='RefMutual',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNet',
        depth=101,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        style='pytorch',
        # Mask2Former pre-trained on COCO without RefCOCO/+/g val/test images (paper
        # Sec. 4.1) is loaded with `load_from`; see tools/dataset_converters.
        init_cfg=None),
    panoptic_head=dict(
        type='ProposalMask2FormerHead',
        in_channels=[256, 512, 1024, 2048],
        strides=[4, 8, 16, 32],
        feat_channels=256,
        out_channels=256,
        num_things_classes=num_things_classes,
        num_stuff_classes=num_stuff_classes,
        num_queries=100,
        num_transformer_feat_level=3,
        pixel_decoder=dict(
            type='MSDeformAttnPixelDecoder',
            num_outs=3,
            norm_cfg=dict(type='GN', num_groups=32),
            act_cfg=dict(type='ReLU'),
            encoder=dict(
                num_layers=6,
                layer_cfg=dict(
                    self_attn_cfg=dict(embed_dims=256, num_heads=8, num_levels=3,
                                       num_points=4, dropout=0.0, batch_first=True),
                    ffn_cfg=dict(embed_dims=256, feedforward_channels=1024, num_fcs=2,
                                 ffn_drop=0.0, act_cfg=dict(type='ReLU', inplace=True)))),
            positional_encoding=dict(num_feats=128, normalize=True)),
        enforce_decoder_input_project=False,
        positional_encoding=dict(num_feats=128, normalize=True),
        transformer_decoder=dict(
            return_intermediate=True,
            num_layers=9,
            layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=256, num_heads=8, dropout=0.0, batch_first=True),
                cross_attn_cfg=dict(embed_dims=256, num_heads=8, dropout=0.0, batch_first=True),
                ffn_cfg=dict(embed_dims=256, feedforward_channels=2048, num_fcs=2, ffn_drop=0.0,
                             act_cfg=dict(type='ReLU', inplace=True))),
            init_cfg=None),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=2.0,
                      reduction='mean', class_weight=[1.0] * num_classes + [0.1]),
        loss_mask=dict(type='CrossEntropyLoss', use_sigmoid=True, reduction='mean',
                       loss_weight=5.0),
        loss_dice=dict(type='DiceLoss', use_sigmoid=True, activate=True, reduction='mean',
                       naive_dice=True, eps=1.0, loss_weight=5.0)),
    text_encoder=dict(type='HFTextEncoder', name_or_path='bert-base-uncased', max_length=40),
    selection_head=dict(type='ProposalSelectionHead', in_channels=256, num_layers=4,
                        num_heads=8, ffn_channels=2048, dropout=0.1, loss_weight=1.0),
    # vocab: the dataset base's `vocab_file`, set by each config (see configs/mutual/)
    generation_head=dict(type='IndicatedGenerationHead', vocab=None,
                         in_channels=256, num_layers=4, num_heads=8, ffn_channels=2048,
                         dropout=0.1, max_len=20, use_indicator=True, loss_weight=1.0),
    train_cfg=dict(
        num_points=12544,
        oversample_ratio=3.0,
        importance_sample_ratio=0.75,
        assigner=dict(
            type='HungarianAssigner',
            match_costs=[
                dict(type='ClassificationCost', weight=2.0),
                dict(type='CrossEntropyLossCost', weight=5.0, use_sigmoid=True),
                dict(type='DiceCost', weight=5.0, pred_act=True, eps=1.0)
            ]),
        sampler=dict(type='MaskPseudoSampler'),
        # what is trained (step 1: everything; the step bases change these)
        proposal_loss=True,  # Mask2Former's losses on all COCO instances of the image
        ref_assigner='mask2former',  # the proposal Mask2Former's final layer assigns
        res_loss=True,  # selection cross-entropy (Eq. 3)
        reg_loss='teacher_forcing',  # Eq. (2); 'policy_gradient' in step 2 (Eq. 4)
        reg_on_generated=False,  # REG does not learn from its own pseudo refs (step 3)
        policy_gradient=dict(num_samples=5, baseline='mean')),
    test_cfg=dict(
        panoptic_on=False,
        semantic_on=False,
        instance_on=False,
        max_per_image=100,
        iou_thr=0.8,
        filter_low_score=True,
        # referring tasks
        res=True,
        reg=True,
        reg_input='mask',  # Table 1 reports 'mask' and 'box'
        beam_size=3,
        max_len=20,
        # ours: REG decoding and RES selection as CUDA graphs on a GPU (ignored on a CPU);
        # off until checked on a GPU (tools/gpu_check.sh compares them with eager runs)
        cuda_graph=False),
    init_cfg=None)
