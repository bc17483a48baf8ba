# The paper's whole recipe, GTA5 -> Cityscapes (19 classes; paper
# Table 1: warm-up 41.4, CPSL 55.7, + KD 60.8 mIoU),
# as one resumable command:
#   python tools/run_pipeline.py THIS_CONFIG --work-dir DIR \
#       --launcher pytorch --gpus 4                        # one node, torchrun
#   python tools/run_pipeline.py THIS_CONFIG --work-dir DIR \
#       --launcher slurm --partition P --gpus 4 --gpus-per-node 4   # srun job steps
# Run the same command again after an interruption: complete stages are skipped, an
# interrupted training stage resumes from its last checkpoint. Before a training stage
# starts, the files it starts from are checked (present, tensor names and shapes of
# the receiving network): the warm-up's extracted segmentor for CPSL, the CPSL / KD-1
# checkpoint and the self-supervised student file (model.student_checkpoint of the
# distillation configs) for KD-1 / KD-2. docs/paper_scale.md has the stage details.
# stage configs: relative to this file's folder (mmengine's {{ fileDirname }})
configs = '{{ fileDirname }}/../'
warmup = configs + 'warmup/adaptseg_deeplabv2_r101_4xb1-40k_gta5-to-cityscapes-896x512.py'
cpsl = configs + 'cpsl/cpsl_deeplabv2_r101_4xb1-90k_gta5-to-cityscapes-896x512.py'
kd1 = configs + 'distill/kd1_deeplabv2_r101_4xb1-40k_gta5-to-cityscapes-896x512.py'
kd2 = configs + 'distill/kd2_deeplabv2_r101_4xb1-40k_gta5-to-cityscapes-896x512.py'
uda_pipeline = dict(stages=[
    # output-space adversarial warm-up; its segmentor is extracted for the next stages
    dict(name='warmup', kind='train', config=warmup, extract='student.',
         label='adversarial warm-up', evaluate=True),
    # P_ST of every Cityscapes train image, sharded over the processes
    dict(name='pseudo_labels', kind='pseudo_labels', config=cpsl, network='warmup'),
    # Eq. 7 prototypes and Eq. 10 class counts
    dict(name='prototypes', kind='prototypes', config=cpsl, network='warmup',
         pseudo_labels='pseudo_labels'),
    dict(name='cpsl', kind='train', config=cpsl, label='CPSL', network='warmup',
         pseudo_labels='pseudo_labels', statistics='prototypes', evaluate=True),
    dict(name='kd1', kind='train', config=kd1, label='CPSL + KD-1', teacher='cpsl',
         evaluate=True),
    dict(name='kd2', kind='train', config=kd2, label='CPSL + KD-2', teacher='kd1',
         evaluate=True),
    # --with export: the KD-2 network as a plain mmseg config + checkpoint
    dict(name='export', kind='export', network='kd2', label='KD-2 exported',
         optional=True),
])
