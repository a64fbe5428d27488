-- depends: visits_0002_worker_capacity_zero
-- An activity's attendees who are not listed clients (a free clinic's, a talk's): a headcount,
-- by age group and sex where known ({"total": 40, "by_age_group": {...}, "by_sex": {...}}).
ALTER TABLE activities ADD COLUMN IF NOT EXISTS attendees jsonb;
