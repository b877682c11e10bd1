"""Hanabi: OpenSpiel's `hanabi` with player views, an exact belief sampler for the
acting player's own hand, a rule-based blueprint and mirror-descent search on top.

- game.py: `HanabiConfig` (checked variants, `.load()`), `Tracker` (history -> what each
  player knows; `view(p)` -> `PlayerView`), `load_hanabi`.
- belief.py: `HandBelief(tracker, p).sample(rng)` / `.distribution()`, `with_hand(...)`.
- rules.py: `decide(tracker, p)` (the conventions), `RuleBot` (spec `hanabi_rules`).
- mds_bot.py: `MDSBot` (spec `mds:...`), over `search.mirror_descent`.
- learned.py: `LearnedPolicy` / `LearnedBot` (spec `hanabi_learned:path=FILE`), an MLP
  trained by imitation of the rule bot (`python -m games.hanabi.learned train`).
"""
