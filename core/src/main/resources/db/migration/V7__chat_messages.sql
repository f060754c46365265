-- A chat request's conversation (JSON: [{"role", "content"}, ...]) beside the prompt its template rendered;
-- null for completions requests.
ALTER TABLE prompts ADD COLUMN messages TEXT;
