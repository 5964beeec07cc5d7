"""Champion / challenger: retraining makes a challenger, the challenger scores in shadow, the rule
promotes or rejects it on recent outcomes, and a champion whose live metrics fall is rolled back.

1. **Retrain** (`challenger_request` -> job `models.challenger` on the `train` queue ->
   `challenger_train_run`): a new failure classifier and RUL regressor for a machine type, on the
   type's real readings and failure events fine-tuned from the champions when there are enough
   (`real_training.real_table`: at least 3 failures inside the readings), else on a fresh
   simulated fleet with another seed, the same size and horizon as the champion's. The simulated
   path does not learn from the drifted readings (the simulator knows nothing of them): it is a
   second draw that the outcomes then judge; only the real path learns the plant's new normal.
   Both register as `candidate` with `params.challenger` = {reason, champion_id, job, rul_id} and
   `shadow_since`, and a `challenger_created` event. Triggers: a drifted report
   (`drift.drift_response`), failure events recorded since the type's newest classifier was
   trained (`challengers_monitor`), or by hand. At most one challenger per type is pending (in
   shadow, or its job queued or running): a second request is a no-op (or a 409 by hand).
2. **Shadow** (`shadow_score`, called by fleet scoring and `machine_predict`): the type's
   champions with the classifier and RUL regressor swapped for the challenger's score the same
   frame; one `ShadowPrediction` per machine. Never returned, never alerting, never counted for
   billing or metrics; a failure is logged and the champion's scoring carries on. Batches and
   file scoring are not shadowed (their rows are not the live traffic outcomes resolve).
   **Traffic split** (optional, `CHALLENGER_TRAFFIC` > 0 when the challenger is created, kept in
   `params.challenger.traffic`): `challenger_route` gives that share of the type's machines, by a
   hash of machine and challenger ids, to the challenger, whose predictions there are the served
   ones (normal Predictions, alerting and billed); the rest are served by the champion and
   shadowed. The rule then compares each version's served outcomes.
3. **Decide** (`challenger_decide`): champion and challenger predictions since `shadow_since`, on
   the machines the challenger scored, resolved by the outcome join (`services/outcomes.py`).
   With at least `CHALLENGER_MIN_OUTCOMES` resolved each: promote when the challenger's F1 is
   at least (1 + margin) x the champion's, or, its recall no lower, its false-positive rate at
   most (1 - margin) x the champion's; reject (archive) when it is that much worse on either
   measure; else keep shadowing, and reject after `CHALLENGER_MAX_SHADOW_DAYS`. Every decision,
   waiting included, is a `challenger_decision` event with the numbers.
4. **Rollback** (`champion_health_check`): a champion classifier whose latest outcome snapshot
   has at least `CHALLENGER_MIN_OUTCOMES` resolved predictions and a live F1 below its held-out
   F1, or below the previous champion's live F1 (its latest snapshot with as many outcomes), by
   more than `ROLLBACK_DROP` is rolled back to the previous champion (and the RUL
   regressor promoted with it, too), with an `automatic_rollback` event; once per snapshot.
"""
