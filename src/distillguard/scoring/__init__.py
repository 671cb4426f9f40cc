"""Account scoring: supervised, unsupervised and community evidence, combined with reasons.

* :mod:`.supervised`: LightGBM model files (train, load, the shipped default);
* :mod:`.unsupervised`: directional robust z-scores that need no labels;
* :mod:`.community`: campaign-level evidence propagated to members;
* :mod:`.combine`: the final risk in [0, 1] with short reason codes;
* :mod:`.actions`: thresholds to allow / monitor / throttle / verify / degrade / block.
"""

from .actions import ActionPolicy, choose_action
from .combine import (
    MODEL_EXCLUDED,
    AccountScores,
    ScoringConfig,
    build_matrix,
    scale_free_features,
    score_accounts,
)
from .community import (
    CommunityEvidence,
    NeighbourEvidence,
    community_evidence,
    community_features,
    neighbour_evidence,
)
from .supervised import AccountModel, default_model_path, train_model
from .unsupervised import robust_extraction_score

__all__ = [
    "MODEL_EXCLUDED",
    "AccountModel",
    "AccountScores",
    "ActionPolicy",
    "CommunityEvidence",
    "NeighbourEvidence",
    "ScoringConfig",
    "build_matrix",
    "choose_action",
    "community_evidence",
    "community_features",
    "default_model_path",
    "neighbour_evidence",
    "robust_extraction_score",
    "scale_free_features",
    "score_accounts",
    "train_model",
]
