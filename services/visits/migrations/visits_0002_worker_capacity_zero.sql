-- depends: visits_0001_plans
-- Workers from resources' events may have a weekly capacity of 0 (on the roster, taking no
-- visits for now); assignment gives them none.
ALTER TABLE workers DROP CONSTRAINT IF EXISTS workers_weekly_capacity_check;
ALTER TABLE workers ADD CONSTRAINT workers_weekly_capacity_check CHECK (weekly_capacity >= 0);
