from repfit.host.cli import main

raise SystemExit(main())
