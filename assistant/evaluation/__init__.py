"""Measure models on task suites: sandboxed pass@k, HumanEval, math answers and localization.

Modules, one job each:

* ``tasks``        — load task suites (our JSONL, HumanEval, MBPP) into :class:`Task`;
* ``extract``      — turn a model's reply into a runnable program;
* ``execute``      — syntax check, then run one program against its tests in the sandbox;
* ``passk``        — the unbiased pass@k estimator and confidence intervals;
* ``store``        — the append-only JSONL of finished samples that makes runs resumable;
* ``runner``       — generation (through the ``Backend`` protocol) + parallel execution;
* ``report``       — summaries, tables, JSON reports and the paired comparison of two runs;
* ``math_answers`` — final-answer extraction, normalisation and SymPy equivalence;
* ``math_eval``    — the greedy math run;
* ``localization`` — scoring the retriever's file localization against gold files.
"""
