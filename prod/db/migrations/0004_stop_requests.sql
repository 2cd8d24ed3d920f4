-- Stop requests across service instances: POST .../stop reaching an instance that does not run the
-- generation sets stop_requested_at on the user message; the instance that runs it polls for the
-- requests of its running generations (one query per poll interval) and cancels them.
ALTER TABLE messages ADD COLUMN stop_requested_at double precision;
