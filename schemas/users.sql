-- The table the sample import (samples/users.csv) loads into.
CREATE TABLE IF NOT EXISTS public.users (
  id          integer PRIMARY KEY,
  first_name  text NOT NULL,
  last_name   text NOT NULL,
  email       text NOT NULL UNIQUE,
  status      text NOT NULL DEFAULT 'pending'
              CHECK (status IN ('active', 'pending', 'suspended', 'closed')),
  signup_at   timestamptz NOT NULL,
  balance     numeric(12,2) NOT NULL DEFAULT 0,
  active      boolean NOT NULL DEFAULT true,
  score       integer,
  notes       text
);
