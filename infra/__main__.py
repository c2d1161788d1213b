"""`pulumi up` in infra/ runs this: the whole stack (deskinfra.program)."""

from deskinfra.program import main

main()
