from gamsi.cli import main

raise SystemExit(main())
