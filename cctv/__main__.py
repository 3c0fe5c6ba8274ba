from cctv.app.cli import main

raise SystemExit(main())
