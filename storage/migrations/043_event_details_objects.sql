-- Event details were written by binary COPY as JSON text in a str, which jsonb stores as one JSON
-- string rather than the object it spells; the writer now sends them as jsonb. Mend the rows stored so far.
UPDATE event_open SET details = (details #>> '{}')::jsonb WHERE jsonb_typeof(details) = 'string';
