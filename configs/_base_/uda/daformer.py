# The self-training ingredients of DAFormer (Hoyer et al., CVPR 2022) and MIC (Hoyer et
# al., CVPR 2023) with their published values, as options of the mean teacher and so of
# CPSL (cpsl_mmseg/models/segmentors/self_training_ingredients.py says what each does).
# A config adds them to its model and dataset:
#   model = dict(_delete_=True, **dict(_base_.mean_teacher, **_base_.daformer), segmentor=...)
#   train_dataloader = dict(dataset=dict(rare_class_sampling=_base_.daformer_rare_class_sampling))
# Where ours departs from their code (documented in the modules): ClassMix draws half
# of each source label's own classes, as DACS and the DAFormer paper describe (their
# code draws from the batch's classes: classmix_class_pool='batch'), the quality weight
# is a share per image (their code: per batch, pseudo_label_weighting.per='batch'), and
# colour jitter / blur decisions are drawn per image (theirs: per batch).
# Values for 19 Cityscapes classes; SYNTHIA's 16-class configs replace the thing
# classes of the feature distance.
cityscapes_thing_classes = [6, 7, 11, 12, 13, 14, 15, 16, 17, 18]
dacs_augmentation = dict(  # colour jitter s = 0.2 with p = 0.8, blur with p = 0.5
    color_jitter_strength=0.2, color_jitter_prob=0.8, blur_prob=0.5)
daformer = dict(
    mix='classmix',
    mix_augmentation=dacs_augmentation,
    # the share of pixels at >= 0.968 confidence; 15 top / 120 bottom rows of a
    # 512x512 Cityscapes crop get weight 0 (their "pseudo-label crop": rectification
    # artefacts and the ego car)
    pseudo_label_weighting=dict(threshold=0.968, ignore_top=15, ignore_bottom=120),
    teacher_momentum=0.001,  # EMA decay alpha = 0.999
    teacher_momentum_rampup=True,
    feature_distance=dict(
        loss_weight=0.005, classes=cityscapes_thing_classes, scale_min_ratio=0.75))
# MIC(DAFormer): blocks of 32 pixels at 512x512 crops (MIC's Table 1 runs, "half the
# patch size" of the 64 it uses at HRDA's 1024x1024 crops), ratio 0.7, weight 1, on
# the colour-augmented target crop, with the pseudo labels and weights of self-training.
mic = dict(
    masked_consistency=dict(block_size=32, mask_ratio=0.7, loss_weight=1.0,
                            color_augmentation=dacs_augmentation))
# Rare class sampling of the source stream: temperature 0.01, images with more than
# 3,000 pixels of the drawn class (counted on the full GTA5 label), crops re-drawn
# until they keep half of that; class_stats.json as the converters write it into the
# source's data_root (tools/compute_class_stats.py writes it for any dataset).
daformer_rare_class_sampling = dict(
    class_temp=0.01, min_pixels=3000, min_crop_ratio=0.5, stats_file='class_stats.json')
# Transformer optimisation of DAFormer (schedule: ../schedules/daformer_40k.py): the
# decode head at 10x the rate, no weight decay on norms and position blocks. Keys match
# substrings of parameter names: none may contain 'student.backbone', or it would
# shadow 'norm' / 'pos_block'.
daformer_paramwise_cfg = dict(custom_keys={
    'pos_block': dict(decay_mult=0.0),
    'norm': dict(decay_mult=0.0),
    'student.decode_head': dict(lr_mult=10.0)})
# CPSL on it: the self-labeling head as the decode head (10x, no decay), as in
# configs/cpsl/cpsl_segformer_mit-b5_*.
daformer_cpsl_paramwise_cfg = dict(custom_keys=dict(
    daformer_paramwise_cfg['custom_keys'],
    self_labeling_head=dict(lr_mult=10.0, decay_mult=0.0)))
