"""Accountability posts: verified results to X, Mastodon, Bluesky and webhooks.

Off unless the config has ``[posts.SERVICE]`` tables. The parts, one module each:

- `poster`: the `Poster` interface, `Post`, `Receipt` and the classified errors
  (`RateLimited`, `TransientFailure`, `PermanentFailure`, `DuplicatePost`);
- `x_poster`, `mastodon_poster`, `bluesky_poster`, `webhook_poster`: the services;
- `length`: how each service counts a post's length (`LengthRule`);
- `template`: user-editable templates (`PostTemplate`) over `PostFacts`;
- `facts`: the facts of a stored result and the model's metric;
- `rules`: when a service posts (`PostingRule`, pure);
- `settings`: the ``[posts]`` config tables and their keys;
- `planner`: the posts a result queues (`PostPlanner`);
- `worker`: the background sender (`OutboxWorker`).

- `posting`: `start_posting` puts them together for the host;
- pictures (``picture = true``): the host keeps the set's samples
  (`repfit.host.setsamples`), stores them with the post, and the worker draws and uploads
  the plot;
- `commands`: ``repfit post`` and ``repfit outbox``.

Nothing is imported here: the services' libraries and ``regex`` come with the ``social``
(or ``webhook``) extra, and the ``repfit`` command must start without them.
"""

