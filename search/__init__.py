"""The pure decision-time-planning core: no imports from agents/, sandboxes/, benchmarks/.

Seams: `Problem`, `Policy`, `Evaluator` (problem.py), with optional fast paths
`SteppingProblem` and `LeafEvaluator`. Planners: `MCTS` (mcts.py) and its array-backed
fast path for plain UCT, `FlatMCTS` (flat.py); `beam_search` (beam.py). Evaluators and
wrappers: evaluators.py. Export: export.py.
"""

from foundation.budget import Budget
from search.beam import BeamConfig, BeamResult, Plan, beam_search
from search.config import MCTSConfig, Widening
from search.errors import (
    InvalidConfigError,
    NoActionsError,
    SearchError,
    UnsupportedProblemError,
)
from search.evaluators import BatchingEvaluator, CachedEvaluator, RandomRollout
from search.export import tree_to_dict, tree_to_dot, tree_to_html, tree_to_json, trees_to_html
from search.flat import FlatMCTS, FlatResult, FlatTree
from search.mcts import MCTS, ActionStat, SearchResult, StopRule, final_child
from search.problem import (
    CHANCE,
    TERMINAL,
    AsyncEvaluator,
    Evaluator,
    LeafEvaluator,
    Policy,
    Problem,
    SteppingProblem,
    Values,
)
from search.selection import puct, uct
from search.tree import Node, subtree

__all__ = [
    "CHANCE",
    "MCTS",
    "TERMINAL",
    "ActionStat",
    "AsyncEvaluator",
    "BatchingEvaluator",
    "BeamConfig",
    "BeamResult",
    "Budget",
    "CachedEvaluator",
    "Evaluator",
    "FlatMCTS",
    "FlatResult",
    "FlatTree",
    "InvalidConfigError",
    "LeafEvaluator",
    "MCTSConfig",
    "NoActionsError",
    "Node",
    "Plan",
    "Policy",
    "Problem",
    "RandomRollout",
    "SearchError",
    "SearchResult",
    "SteppingProblem",
    "StopRule",
    "UnsupportedProblemError",
    "Values",
    "Widening",
    "beam_search",
    "final_child",
    "puct",
    "subtree",
    "tree_to_dict",
    "tree_to_dot",
    "tree_to_html",
    "tree_to_json",
    "trees_to_html",
    "uct",
]
