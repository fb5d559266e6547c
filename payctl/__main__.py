from payctl.cli import main

raise SystemExit(main())
