from hallwatch.cli import main

raise SystemExit(main())
