"""Every default of the project in one place: the notebook's settings cell and the CLI read these."""

DATA_PATH = "MP_Data"                      # tutorial layout: MP_Data/<action>/<sequence>/<frame>.npy
LOG_DIR = "Logs"                           # TensorBoard runs
MODEL_PATH = "action.h5"                   # shipped pretrained model
ACTIONS = ("hello", "thanks", "iloveyou")  # the tutorial's signs, in the model's output order
NO_SEQUENCES = 30                          # sequences recorded per action by `collect`
SEQUENCE_LENGTH = 30                       # frames per sequence, and the model's window
FPS = 25.0                                 # keypoint sampling rate of video files (README: "Frame rate"; bench/recording_rate.py)
MIN_DETECTION_CONFIDENCE = 0.5             # Holistic, as in the tutorial
MIN_TRACKING_CONFIDENCE = 0.5
MODEL_COMPLEXITY = 1                       # the only pose model shipped inside the mediapipe wheel
THRESHOLD = 0.5                            # probability a sign needs to enter the sentence
CONFIDENCE = 0.8                           # ... and on average over its STABLE_FRAMES predictions (README: "Stability")
STABLE_FRAMES = 10                         # predictions that must agree before a sign is accepted
SENTENCE_LENGTH = 5                        # words kept in the running sentence
MEMBERS = 3                                # networks averaged in a model of the shipped recipe (bench/unseen.py)
NO_SIGN = "idle"                          # the "no sign" output of a model; MP_Data/idle holds examples, as do clips in <videos>/idle
NO_SIGN_SHARE = 0.25                       # 'no sign' windows cut from the sign recordings, per sign sequence (signlang.nosign)
CONTEXT_SHARE = 0.5                        # sign windows with another sign's edge in them, per sign sequence (signlang.context)
CONTEXT_FRAMES = 12                        # ... at most this many frames of the other sign
EPOCHS = 50                                # at most, per network; early stopping picks the best epoch
PATIENCE = 15                              # early stopping: epochs without a better validation loss
VETO_EPOCHS = 30                           # the veto network's epochs (signlang.veto), all of them kept
ENROLL_EXAMPLES = 8                        # recordings per new sign made by `add-sign --source` (bench/enroll.py)
OWN_EXAMPLES = 3                           # ... then of each sign it knows, the signer's own way
