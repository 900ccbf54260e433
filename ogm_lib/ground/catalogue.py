"""The data catalogue: the datasets the project knows, their split rules, and what pins their inputs.

Facts, not code: `method/config.py` checks a `RunConfig` against these names, `method/data/` reads by them,
and `method/data/fingerprint.py` names a dataset's inputs with the preprocessing version, the checksum list's
hash and the pinned fingerprint below. Imports nothing of the project.
"""

#: every dataset a run may name
DATASETS = ("avdigits", "synthetic", "cremad", "ksounds", "vggsound", "ave")
#: datasets read from a prepared store (`data_scripts/prepare_<name>.py`)
PREPARED_DATASETS = ("cremad", "ksounds", "vggsound", "ave")
#: split rules (`data/splits.py`): the dataset's own split, or train/validation/test speakers disjoint
SPLIT_RULES = ("official", "speaker")
#: the images avdigits shows (`data/avdigits.py`): scikit-learn's bundled 8x8 digits, or MNIST's test images
VISUAL_SOURCES = ("digits", "mnist")
#: datasets whose clips carry a speaker id (the `speaker` rule needs one)
SPEAKER_DATASETS = ("avdigits", "cremad")
#: the version of avdigits' preprocessing (`data/avdigits.py`): part of its fingerprint, so of every run's key
AVDIGITS_PREPROCESS_VERSION = 3
#: the SHA-256 of FSDD's checksum list (`method/data/fsdd_sha256.txt`: every recording's SHA-256), the other
#: part of avdigits' fingerprint: pinned here, so that a config names its data without reading the list (the
#: list is refused where it is read, `fsdd.expected_checksums`, if it no longer has this hash)
FSDD_CHECKSUMS_SHA256 = "04e1baae96c6a26e39c623f2b01d0182ddae627ba0ac02a3cdc17ba2af99fd9b"
#: the recordings that list names, `<digit>_<speaker>_<take>.wav`: digits 0-9 of these six speakers, takes
#: 0 to FSDD_TAKES - 1 (FSDD v1.0.10: 10 x 6 x 50 = 3,000), so split sizes are known without the list too
FSDD_SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
FSDD_TAKES = 50
#: the data fingerprint (`data/fingerprint.py`) of each dataset's inputs when runs were first keyed without
#: one: left out of the key at this value, so those runs keep their keys; any other fingerprint is in it
#: (avdigits: the FSDD checksum list and preprocessing version 3; a prepared store's is always in the key)
PINNED_FINGERPRINTS = {"avdigits": "b17cb6f936da3106"}
