from trollscope.cli import main

main()
