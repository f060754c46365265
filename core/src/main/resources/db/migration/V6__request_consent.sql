-- What the request itself said about training, kept apart from the user's standing consent: a prompt
-- sent with training_consent false stays out of training even if its user opts out and back in.
ALTER TABLE prompts ADD COLUMN request_consent BOOLEAN;
UPDATE prompts SET request_consent = consent_to_training;
